"""The loopback HTTP server the fake providers (Gemini, Bedrock, Mistral, Cohere) share.

A subclass says how to answer one request (`answer(exchange)`); this base keeps the
queue of replies, records every request, and writes JSON, server-sent events or raw
bytes. Replies are served in queue order; when the queue is empty, `default_reply`.

    class FakeX(FakeServer):
        def answer(self, exchange):
            reply = self.next_reply()
            exchange.send_json(200, {...})
"""
from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # decoded JSON, or the raw bytes when not JSON


@dataclass
class ErrorReply:
    """An HTTP error with a JSON body, as the provider sends it."""

    status: int
    body: dict
    headers: dict[str, str] | None = None


class Exchange:
    """One request being answered."""

    def __init__(self, handler: BaseHTTPRequestHandler, request: RecordedRequest):
        self.handler = handler
        self.request = request

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(payload).encode(), "application/json", headers)

    def send_bytes(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        handler = self.handler
        handler.send_response(status)
        handler.send_header("content-type", content_type)
        handler.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def send_error(self, reply: ErrorReply) -> None:
        self.send_json(reply.status, reply.body, reply.headers)

    def start_stream(self, content_type: str, headers: dict[str, str] | None = None) -> None:
        """Headers of a streamed answer; its body ends when the connection closes (HTTP/1.0)."""
        handler = self.handler
        handler.send_response(200)
        handler.send_header("content-type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()

    def write(self, data: bytes) -> None:
        self.handler.wfile.write(data)
        self.handler.wfile.flush()

    def send_events(self, events: list[Any]) -> None:
        """Server-sent events, one `data:` line of JSON each."""
        self.start_stream("text/event-stream")
        for event in events:
            self.write(b"data: " + json.dumps(event).encode() + b"\n\n")


class FakeServer:
    name = "fake-provider"

    def __init__(self) -> None:
        self.default_reply: Any = None
        self.requests: list[RecordedRequest] = []
        self._replies: deque = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=self.name, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def queue(self, *replies: Any) -> None:
        with self._lock:
            self._replies.extend(replies)

    def next_reply(self) -> Any:
        with self._lock:
            return self._replies.popleft() if self._replies else self.default_reply

    def answer(self, exchange: Exchange) -> None:
        raise NotImplementedError

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler_for(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = fake.name

        def do_GET(self) -> None:  # noqa: N802
            self.do_POST()

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw) if raw else {}
            except ValueError:
                body = raw
            request = RecordedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with fake._lock:
                fake.requests.append(request)
            try:
                fake.answer(Exchange(self, request))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away (early break, timeout)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
