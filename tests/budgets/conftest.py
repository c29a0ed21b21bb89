"""Fixtures for the budget tests: a local webhook receiver and a local SMTP server with
STARTTLS and login (aiosmtpd, with a certificate from a test CA)."""
from __future__ import annotations

import ssl
from dataclasses import dataclass, field

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from budget_harness import SMTP_PASSWORD, SMTP_PASSWORD_ENV, SMTP_USER, WebhookReceiver, free_port


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def test_ca():
    return trustme.CA()


@dataclass
class Mailbox:
    host: str
    port: int
    ca_file: str
    messages: list = field(default_factory=list)
    start: object = None  # starts the server (see the smtp_server fixture)

    def channel(self, *recipients: str, **smtp) -> dict:
        """An email channel that sends here with STARTTLS and login."""
        settings = {"host": self.host, "port": self.port, "security": "starttls", "username": SMTP_USER,
                    "password_env": SMTP_PASSWORD_ENV, "sender": "llmledger@example.com", "ca_file": self.ca_file}
        return {"type": "email", "recipients": list(recipients or ["ops@example.com"]), "smtp": {**settings, **smtp}}


class _Recorder:
    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        self.mailbox.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                      "content": envelope.content, "authenticated": session.authenticated,
                                      "tls": session.ssl is not None})
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data):
    good = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
            and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=good, handled=False)  # not handled: aiosmtpd answers 535 itself


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
    controller = Controller(_Recorder(box), hostname=box.host, port=box.port, tls_context=server_context,
                            require_starttls=True, authenticator=_authenticate, auth_require_tls=True)
    started = []
    box.start = lambda: (controller.start(), started.append(True))
    yield box
    if started:
        controller.stop()
