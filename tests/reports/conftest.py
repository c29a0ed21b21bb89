"""The known two months of report_month.py with two budgets, loaded once per session into a
database of the shared embedded store; and where the test run leaves its reports to look at."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from report_month import BUDGETS, generate, load

from llmledger.processor.analytics import runner_for_client
from llmledger.processor.budgets.store import BudgetStore

@pytest.fixture(scope="session")
def report_calls():
    return generate()


@pytest.fixture(scope="session")
def report_client(chdb_dir, report_calls):
    from llmledger.processor.storage.client import connect
    from llmledger.processor.storage.migrate import migrate

    client = connect(data_dir=chdb_dir, database=f"reports_{uuid.uuid4().hex[:12]}")
    migrate(client)
    load(client, report_calls)
    BudgetStore(client).upsert(BUDGETS, source="cli", now=datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp())
    yield client
    client.command(f"DROP DATABASE IF EXISTS {client.database}")


@pytest.fixture(scope="session")
def report_run(report_client):
    return runner_for_client(report_client)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory):
    """A folder for the reports and charts the tests render, printed so that people look at them."""
    folder = tmp_path_factory.mktemp("report-artifacts")
    print(f"\nreport artifacts: {folder}")
    return folder
