"""Fixtures shared by all tests.

chDB opens one data directory per process for the process's lifetime, so every in-process
test shares one embedded store and gets a database of its own. Tests of the whole service
run `llmledger serve` as a child process with its own data directory.
"""
from __future__ import annotations

import ssl
import uuid
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller

from local_servers import SMTP_PASSWORD, SMTP_PASSWORD_ENV, Mailbox, Recorder, WebhookReceiver, authenticate, free_port
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


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def test_ca():
    return trustme.CA()


@pytest.fixture
def mailbox(smtp_server):
    """An SMTP server on 127.0.0.1 that requires STARTTLS and then login."""
    smtp_server.start()
    return smtp_server


@pytest.fixture
def smtp_server(test_ca, tmp_path, monkeypatch):
    """The mailbox's server, not running until the test calls `start()`."""
    monkeypatch.setenv(SMTP_PASSWORD_ENV, SMTP_PASSWORD)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "test-ca.pem"
    test_ca.cert_pem.write_to_path(str(ca_file))
    box = Mailbox("127.0.0.1", free_port(), str(ca_file))
    controller = Controller(Recorder(box), hostname=box.host, port=box.port, tls_context=server_context,
                            require_starttls=True, authenticator=authenticate, auth_require_tls=True)
    started = []
    box.start = lambda: (controller.start(), started.append(True))
    yield box
    if started:
        controller.stop()
