"""The synthetic month, loaded once per test session into databases of the shared
embedded store (chDB opens one data directory per process: the session's)."""
from __future__ import annotations

import uuid

import pytest
from analytics_month import generate_month, injected_anomalies, load

from llmledger.processor.analytics import runner_for_client


def _database_with(chdb_dir, calls):
    from llmledger.processor.storage.client import connect
    from llmledger.processor.storage.migrate import migrate

    client = connect(data_dir=chdb_dir, database=f"analytics_{uuid.uuid4().hex[:12]}")
    migrate(client)
    load(client, calls)
    return client


@pytest.fixture(scope="session")
def month_calls():
    return generate_month()


@pytest.fixture(scope="session")
def month_client(chdb_dir, month_calls):
    """The clean month. Tests only read it."""
    client = _database_with(chdb_dir, month_calls)
    yield client
    client.command(f"DROP DATABASE IF EXISTS {client.database}")


@pytest.fixture(scope="session")
def anomalous_client(chdb_dir, month_calls):
    """The same month with the anomalies of injected_anomalies() added."""
    extra, _ = injected_anomalies()
    client = _database_with(chdb_dir, month_calls + extra)
    yield client
    client.command(f"DROP DATABASE IF EXISTS {client.database}")


@pytest.fixture(scope="session")
def month(month_client):
    """A runner on the clean month."""
    return runner_for_client(month_client)

