"""deploy/cluster/: 2 shards x 2 replicas, ClickHouse Keeper, two llmledger replicas behind the
Collector's load-balancing exporter. No Docker engine runs here: check that the files parse and
agree with each other and with what llmledger accepts."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from llmledger.processor.cli import build_parser
from llmledger.processor.config import load_config

CLUSTER_DIR = Path(__file__).resolve().parent.parent / "deploy" / "cluster"


def _compose() -> dict:
    return yaml.safe_load((CLUSTER_DIR / "docker-compose.yaml").read_text())["services"]


def _mounted(service: dict, target: str) -> Path:
    for volume in service["volumes"]:
        source, mounted_at = volume.split(":")[:2]
        if mounted_at == target:
            return (CLUSTER_DIR / source).resolve()
    raise AssertionError(f"nothing mounted at {target}")


def _remote_servers() -> tuple[str, list[list[str]], ET.Element]:
    root = ET.parse(CLUSTER_DIR / "clickhouse" / "cluster.xml").getroot()
    (cluster,) = list(root.find("remote_servers"))
    shards = []
    for shard in cluster.findall("shard"):
        assert shard.findtext("internal_replication") == "true"  # replication copies, not the Distributed table
        shards.append([replica.findtext("host") for replica in shard.findall("replica")])
    return cluster.tag, shards, root


def test_two_shards_of_two_replicas_each_with_matching_macros():
    services = _compose()
    name, shards, root = _remote_servers()
    assert len(shards) == 2 and all(len(replicas) == 2 for replicas in shards)
    macros = root.find("macros")
    assert macros.find("shard").get("from_env") == "CLICKHOUSE_SHARD"
    assert macros.find("replica").get("from_env") == "CLICKHOUSE_REPLICA"
    replica_names = []
    for number, replicas in enumerate(shards, start=1):
        for host in replicas:
            server = services[host]
            assert server["image"].startswith("clickhouse/clickhouse-server:")
            assert _mounted(server, "/etc/clickhouse-server/config.d/cluster.xml") == CLUSTER_DIR / "clickhouse" / "cluster.xml"
            assert int(server["environment"]["CLICKHOUSE_SHARD"]) == number
            replica_names.append(server["environment"]["CLICKHOUSE_REPLICA"])
    # Tables on every node share one Keeper path: replica names must be unique cluster-wide.
    assert len(set(replica_names)) == 4


def test_inserts_wait_for_every_replica_of_their_shard_and_the_servers_reach_each_other():
    services = _compose()
    _, shards, _ = _remote_servers()
    users = ET.parse(CLUSTER_DIR / "clickhouse" / "users.xml").getroot()
    # llmledger and the Distributed tables connect as `default` (the URLs in the compose file).
    assert int(users.find("profiles/default/insert_quorum").text) == len(shards[0])
    for host in (host for replicas in shards for host in replicas):
        assert _mounted(services[host], "/etc/clickhouse-server/users.d/llmledger.xml") == CLUSTER_DIR / "clickhouse" / "users.xml"
        # Else the image limits the password-less default user to localhost.
        assert services[host]["environment"]["CLICKHOUSE_SKIP_USER_SETUP"] == "1"
    for name in ("llmledger-1", "llmledger-2"):
        assert urlsplit(services[name]["environment"]["LLMLEDGER_CLICKHOUSE_URL"]).username == "default"


def test_keeper_ensemble_is_the_one_the_servers_use():
    services = _compose()
    keeper = ET.parse(CLUSTER_DIR / "keeper" / "keeper.xml").getroot().find("keeper_server")
    assert keeper.find("server_id").get("from_env") == "KEEPER_SERVER_ID"
    raft = {server.findtext("id"): server.findtext("hostname")
            for server in keeper.find("raft_configuration").findall("server")}
    assert len(raft) == 3  # a quorum survives one node
    for server_id, host in raft.items():
        assert services[host]["environment"]["KEEPER_SERVER_ID"] == server_id
        assert _mounted(services[host], "/etc/clickhouse-keeper/keeper_config.xml") == CLUSTER_DIR / "keeper" / "keeper.xml"
    _, _, root = _remote_servers()
    nodes = [(node.findtext("host"), node.findtext("port")) for node in root.find("zookeeper").findall("node")]
    assert nodes == [(host, keeper.findtext("tcp_port")) for host in raft.values()]


def test_each_llmledger_replica_has_its_own_log_and_node_and_shares_the_keys():
    services = _compose()
    cluster_name, shards, _ = _remote_servers()
    hosts = {host for replicas in shards for host in replicas}
    replicas = [name for name in services if name.startswith("llmledger-")]
    assert len(replicas) == 2
    parser = build_parser()
    logs, nodes = set(), set()
    for name in replicas:
        service = services[name]
        args = parser.parse_args(service["command"])
        assert args.command == "serve"
        config_file = _mounted(service, args.config)
        config = load_config(config_file, environ=service["environment"])
        assert config.storage.cluster == cluster_name
        nodes.add(urlsplit(config.storage.clickhouse_url).hostname)
        volumes = {volume.split(":")[1]: volume.split(":")[0] for volume in service["volumes"]}
        logs.add(volumes[config.storage.data_dir])
        assert Path(config.auth.keys_file).parent.as_posix() in volumes, "the key file lives on a volume"
        assert volumes[Path(config.auth.keys_file).parent.as_posix()] == "llmledger-keys"
        for target in (config.budgets.file, config.pricing.price_book):
            assert _mounted(service, target).exists(), target
    assert len(logs) == 2, "a write-ahead log is never shared"
    assert nodes <= hosts and len(nodes) == 2


def test_the_collector_spreads_traces_over_both_replicas_by_trace_id():
    services = _compose()
    collector_service = services["collector"]
    collector = yaml.safe_load(_mounted(collector_service, "/etc/otelcol/config.yaml").read_text())
    pipeline = collector["service"]["pipelines"]["traces"]
    (exporter_name,) = pipeline["exporters"]
    exporter = collector["exporters"][exporter_name]
    assert exporter_name == "loadbalancing" and exporter["routing_key"] == "traceID"
    replicas = sorted(name for name in services if name.startswith("llmledger-"))
    targets = exporter["resolver"]["static"]["hostnames"]
    for name in replicas:
        config = load_config(_mounted(services[name], "/etc/llmledger/llmledger.yaml"),
                             environ=services[name]["environment"])
        assert f"{name}:{config.grpc.port}" in targets
        assert config.auth.enabled
    assert exporter["protocol"]["otlp"]["headers"]["authorization"].startswith("Bearer ")
    assert "LLMLEDGER_API_KEY" in collector_service["environment"]
