"""Config: file < environment < flags, and mistakes reported with file, line and key."""
from __future__ import annotations

import pytest

from llmledger.processor.config import ConfigError, load_config


def _write(tmp_path, text):
    path = tmp_path / "llmledger.yaml"
    path.write_text(text)
    return path


def test_defaults_file_env_and_flags_layer_in_that_order(tmp_path):
    path = _write(tmp_path, "http:\n  port: 5000\n  host: 0.0.0.0\nstorage:\n  data_dir: /srv/ledger\n")
    assert load_config(None, environ={}).http.port == 4318
    config = load_config(path, environ={"LLMLEDGER_HTTP_PORT": "6000"})
    assert (config.http.port, config.http.host, config.storage.data_dir) == (6000, "0.0.0.0", "/srv/ledger")
    config = load_config(path, environ={"LLMLEDGER_HTTP_PORT": "6000"}, overrides={("http", "port"): 7000})
    assert config.http.port == 7000
    config = load_config(path, environ={"LLMLEDGER_CLICKHOUSE_URL": "http://ch:8123"})
    assert config.storage.clickhouse_url == "http://ch:8123"


@pytest.mark.parametrize("text, message", [
    ("http:\n  port: 4318\n  prot: 1\n", "llmledger.yaml:3: http.prot: unknown key (expected one of: host, port"),
    ("htp:\n  port: 1\n", "llmledger.yaml:1: htp: unknown section"),
    ("grpc:\n  port: 99999\n", "llmledger.yaml:2: grpc.port: must be a port number"),
    ("wal:\n  fsync: maybe\n", "llmledger.yaml:2: wal.fsync: must be true or false"),
    ("http: [1, 2]\n", "llmledger.yaml:1: http: must be a mapping"),
    ("http:\n  port: [\n", "llmledger.yaml:3: not valid YAML"),
    ("storage:\n  cluster: 'main; DROP'\n", "llmledger.yaml:2: storage.cluster: must be a plain name"),
    # A cluster is reached through one of its nodes; the embedded store is not one.
    ("storage:\n  cluster: main\n", "storage.cluster: needs storage.clickhouse_url"),
])
def test_mistakes_name_the_file_line_and_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, text), environ={})
    assert message in str(error.value)


def test_bad_environment_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="LLMLEDGER_GRPC_PORT='abc'"):
        load_config(None, environ={"LLMLEDGER_GRPC_PORT": "abc"})


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_a_file_with_several_mistakes_reports_every_one_with_its_line(tmp_path):
    path = _write(tmp_path, "http:\n  prot: 1\n  port: 4318\ngrpc:\n  port: 99999\nwal:\n  fsync: maybe\n"
                            "htp:\n  port: 1\nbudgets: [1]\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={"LLMLEDGER_HTTP_PORT": "many"})
    assert [p.split(": ", 2)[:2] for p in error.value.problems] == [
        [f"{path}:2", "http.prot"], [f"{path}:5", "grpc.port"], [f"{path}:7", "wal.fsync"],
        [f"{path}:8", "htp"], [f"{path}:10", "budgets"],
        ["environment variable LLMLEDGER_HTTP_PORT='many'", "must be a port number 0-65535"]]


def test_the_command_line_prints_every_mistake(tmp_path):
    import subprocess
    import sys

    path = _write(tmp_path, "http:\n  prot: 1\nstorage:\n  databse: x\n")
    done = subprocess.run([sys.executable, "-m", "llmledger.processor.cli", "query", "SELECT 1", "--config",
                           str(path), "--data-dir", str(tmp_path / "data")], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"llmledger: config error: {path}:2: http.prot: unknown key (expected one of: host, port, "
        "max_request_bytes, max_inflight_bytes)",
        f"llmledger: config error: {path}:4: storage.databse: unknown key (expected one of: data_dir, "
        "clickhouse_url, database, cluster)"]


def test_a_misspelt_variable_is_reported_with_the_closest_name(caplog):
    environ = {"LLMLEDGER_HTTP_PROT": "5000", "LLMLEDGER_STORAGE_DATA_DIR": "/srv", "LLMLEDGER_SMTP_HOTS": "mail",
               "LLMLEDGER_SMTP_HOST": "mail", "LLMLEDGER_BUDGET_URL": "http://x", "LLMLEDGER_ZZZ": "1",
               "OTHER_HTTP_PROT": "1"}
    with caplog.at_level("WARNING", logger="llmledger.processor.config"):
        config = load_config(None, environ=environ)
    assert config.http.port == 4318  # the misspelt one changed nothing
    assert [r.getMessage() for r in caplog.records] == [
        "environment variable LLMLEDGER_HTTP_PROT is not a setting and is ignored "
        "(did you mean LLMLEDGER_HTTP_PORT?)",
        "environment variable LLMLEDGER_SMTP_HOTS is not a setting and is ignored "
        "(did you mean LLMLEDGER_SMTP_HOST?)",
        "environment variable LLMLEDGER_STORAGE_DATA_DIR is not a setting and is ignored "
        "(did you mean LLMLEDGER_DATA_DIR?)",
        "environment variable LLMLEDGER_ZZZ is not a setting and is ignored"]


def test_every_llmledger_variable_the_code_reads_is_known():
    """A variable read anywhere (the service, the instrumentation) must not be reported as a typo."""
    import re
    from pathlib import Path

    from llmledger.processor.config import known_env_names

    root = Path(__file__).resolve().parents[1]
    read = set()
    for folder in ("processor", "instrumentation", "deploy"):
        for path in (root / folder).rglob("*"):
            if path.suffix in (".py", ".yaml", ".yml") or path.name == "Dockerfile":
                read |= set(re.findall(r"LLMLEDGER_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8")))
    read -= {"LLMLEDGER_SMTP"}  # the prefix of the f-string in notify/smtp.py
    assert read - known_env_names() == set()
