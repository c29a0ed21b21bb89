"""Fixtures shared by all tests.

chDB opens one data directory per process for the process's lifetime, so every in-process
test shares one embedded store and gets a database of its own. Tests of the whole service
run `llmledger serve` as a child process with its own data directory.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from service_harness import start_service


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def clickhouse(chdb_dir):
    """A clickhouse-connect client on the embedded store, in a fresh database with the schema applied."""
    from llmledger.processor.storage.client import connect
    from llmledger.processor.storage.migrate import migrate

    client = connect(data_dir=chdb_dir, database=f"test_{uuid.uuid4().hex[:12]}")
    migrate(client)
    yield client
    client.command(f"DROP DATABASE IF EXISTS {client.database}")


@pytest.fixture
def service(tmp_path):
    running = start_service(tmp_path / "data")
    yield running
    running.stop()
