"""Local stand-ins for what notifications reach, on 127.0.0.1 only: an HTTP receiver for
webhooks (Slack's included) and an SMTP server (aiosmtpd) with STARTTLS and login."""
from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.smtp import AuthResult, LoginPassword

# The login of the test SMTP server (see the `mailbox` fixture).
SMTP_USER = "alerts"
SMTP_PASSWORD = "correct horse battery staple"
SMTP_PASSWORD_ENV = "BUDGET_TEST_SMTP_PASSWORD"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebhookReceiver:
    """An HTTP server that records every POST and answers with the statuses queued in `answers`
    (200 once they run out). `port` 0 picks a free one."""

    def __init__(self, port: int = 0):
        self.requests: list[dict] = []
        self.answers: deque[tuple[int, dict]] = deque()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, headers = receiver.answers.popleft() if receiver.answers else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def documents(self, path: str | None = None) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests if path is None or r["path"] == path]

    def close(self):
        self._server.shutdown()
        self._server.server_close()


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


class Recorder:
    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        self.mailbox.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                      "content": envelope.content, "authenticated": session.authenticated,
                                      "tls": session.ssl is not None})
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    good = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
            and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=good, handled=False)  # not handled: aiosmtpd answers 535 itself
