"""Every command but `serve` reads an existing store: pointed at a directory or database that
is not there, it says where it looked and creates nothing (an empty new store would answer 0)."""
from __future__ import annotations

import json

import pytest

from llmledger.processor.cli import main

READ_COMMANDS = [
    ["query", "SELECT count() FROM llm_spans"],
    ["costs", "by", "app"],
    ["costs", "summary"],
    ["anomalies"],
    ["budgets", "status"],
    ["budgets", "list"],
    ["budgets", "evaluate"],
    ["report", "--period", "week"],
    ["plot", "trend"],
]


def _run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_data_directory_that_does_not_exist_is_an_error_naming_it(capsys, tmp_path, command):
    missing = tmp_path / "elsewhere" / "llmledger-data"
    code, out, err = _run(capsys, [*command, "--data-dir", str(missing)])
    assert code == 1 and out == ""
    assert err == (f"llmledger: no data directory at {missing}: give the one `llmledger serve` uses "
                   "(--data-dir, LLMLEDGER_DATA_DIR or storage.data_dir)\n")
    assert not (tmp_path / "elsewhere").exists()


def test_a_directory_without_a_store_is_an_error_and_stays_empty(capsys, tmp_path):
    code, _, err = _run(capsys, ["query", "SELECT 1", "--data-dir", str(tmp_path)])
    assert (code, err) == (1, f"llmledger: the data directory {tmp_path} holds no store (no clickhouse/ in it): "
                              "`llmledger serve` creates one\n")
    assert list(tmp_path.iterdir()) == []


def test_the_default_data_directory_is_looked_for_where_the_command_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMLEDGER_DATA_DIR", raising=False)
    code, _, err = _run(capsys, ["costs", "by", "model"])
    assert code == 1 and f"no data directory at {tmp_path / 'llmledger-data'}" in err
    assert list(tmp_path.iterdir()) == []


def test_a_database_that_is_not_there_is_an_error(capsys, clickhouse, chdb_dir, monkeypatch):
    monkeypatch.setenv("LLMLEDGER_STORAGE_DATABASE", "no_such_database")
    code, _, err = _run(capsys, ["query", "SELECT 1", "--data-dir", str(chdb_dir)])
    assert (code, err) == (1, f"llmledger: the embedded store at {chdb_dir / 'clickhouse'} has no database "
                              "'no_such_database'\n")
    assert clickhouse.command("EXISTS DATABASE no_such_database") == 0


def test_a_database_without_llmledger_tables_is_an_error(capsys, clickhouse, chdb_dir, monkeypatch):
    clickhouse.command("CREATE DATABASE IF NOT EXISTS someone_elses")
    try:
        monkeypatch.setenv("LLMLEDGER_STORAGE_DATABASE", "someone_elses")
        code, _, err = _run(capsys, ["budgets", "status", "--data-dir", str(chdb_dir)])
        assert (code, err) == (1, "llmledger: the database 'someone_elses' holds no llmledger tables: "
                                  "`llmledger serve` creates them\n")
        assert clickhouse.query("SELECT name FROM system.tables WHERE database = 'someone_elses'").result_rows == []
    finally:
        clickhouse.command("DROP DATABASE someone_elses")


def test_an_existing_store_answers(capsys, clickhouse, chdb_dir, monkeypatch):
    monkeypatch.setenv("LLMLEDGER_STORAGE_DATABASE", clickhouse.database)
    code, out, _ = _run(capsys, ["query", "SELECT count() AS n FROM llm_spans", "--format", "json",
                                 "--data-dir", str(chdb_dir)])
    assert (code, json.loads(out)) == (0, [{"n": 0}])
