"""The deploy/ files are for users' machines (no Docker engine runs here): check that
they parse and that everything they tell llmledger to do is something it accepts."""
from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from llmledger.processor.budgets import load_budget_file
from llmledger.processor.cli import build_parser
from llmledger.processor.config import load_config
from llmledger.processor.pricing import PriceBook

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_container_config_is_valid_and_requires_keys_on_open_interfaces():
    config = load_config(DEPLOY / "llmledger.yaml", environ={})
    assert config.http.host == "0.0.0.0" and config.auth.enabled
    assert config.storage.data_dir == "/var/lib/llmledger"


def test_example_budgets_and_price_book_load():
    assert {b.id for b in load_budget_file(DEPLOY / "budgets.example.yaml").budgets} >= {
        "chatbot-production.daily", "chatbot-production.monthly", "internal-tools.daily"}
    PriceBook.load(DEPLOY / "price-book.example.yaml")


def test_compose_and_dockerfile_run_commands_llmledger_accepts():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    service = compose["services"]["llmledger"]
    parser = build_parser()
    args = parser.parse_args(service["command"])
    assert args.command == "serve" and args.config == "/etc/llmledger/llmledger.yaml"
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in service["volumes"] if volume.startswith(".")}
    for target in ("/etc/llmledger/llmledger.yaml", "/etc/llmledger/budgets.yaml", "/etc/llmledger/price-book.yaml"):
        assert (DEPLOY / mounted[target]).exists(), target
    assert {"4317:4317", "4318:4318"} <= set(service["ports"])

    dockerfile = (DEPLOY / "Dockerfile").read_text().splitlines()
    cmd = next(line for line in dockerfile if line.startswith("CMD "))
    assert parser.parse_args(yaml.safe_load(cmd[4:])).command == "serve"
    copied = [line.split()[1:-1] for line in dockerfile if line.startswith("COPY ")]
    root = DEPLOY.parent
    assert all((root / name).exists() for names in copied for name in names)


def test_grafana_datasource_points_at_the_trace_table():
    source = yaml.safe_load((DEPLOY / "grafana" / "datasource.yaml").read_text())["datasources"][0]
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"]["traces"]["defaultTable"] == "otel_traces"


def test_collector_forwards_traces_to_llmledger():
    collector = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text())
    pipelines = collector["service"]["pipelines"]
    pipeline = pipelines["traces"]
    # serve takes metrics and logs too: the same exporter carries them.
    assert pipelines["metrics"]["exporters"] == pipelines["logs"]["exporters"] == pipeline["exporters"]
    exporter = collector["exporters"][pipeline["exporters"][0]]
    assert exporter["endpoint"].endswith(":4318") and "authorization" in exporter["headers"]
    assert shlex.split(exporter["headers"]["authorization"])[0] == "Bearer"
