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
