"""A local HTTP server that speaks Anthropic's Messages API wire format.

The real `anthropic` SDK is pointed at it (`base_url=fake.base_url`), so tests exercise
the SDK's own request building, response parsing and SSE decoding with only the network
replaced. It answers on 127.0.0.1 only.

    with FakeAnthropic() as fake:
        fake.queue(MessageReply(text="Hi", usage=Usage(input_tokens=10, output_tokens=2)))
        fake.queue(error_reply(429))
        client = anthropic.Anthropic(api_key="test", base_url=fake.base_url, max_retries=0)

Replies are served in queue order; when the queue is empty, `default_reply` answers.
Endpoints: POST /v1/messages (JSON, or SSE when the body has "stream": true), POST
/v1/messages/count_tokens, Vertex's .../publishers/anthropic/models/{model}:rawPredict
and :streamRawPredict, and Bedrock's POST /model/{id}/invoke (non-streamed).
"""
from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Usage:
    """Usage as Anthropic reports it: `input_tokens` excludes the cached tokens."""

    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    thinking_tokens: int | None = None  # reported under output_tokens_details
    service_tier: str = "standard"

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": self.output_tokens,
            "service_tier": self.service_tier,
        }
        if self.thinking_tokens is not None:
            body["output_tokens_details"] = {"thinking_tokens": self.thinking_tokens}
        return body


@dataclass
class MessageReply:
    """A successful message; streamed as SSE when the request asks for a stream."""

    text: str = "Hello from the fake."
    usage: Usage = field(default_factory=lambda: Usage(input_tokens=12, output_tokens=6))
    model: str | None = None  # None echoes the requested model
    message_id: str = "msg_fake_0001"
    stop_reason: str = "end_turn"
    thinking: str | None = None  # adds a thinking block before the text
    deltas: int = 3  # how many text_delta events the text is split into
    delay: float = 0.0  # seconds to wait before answering (for client timeouts)
    error_after_first_delta: str | None = None  # SSE `error` event of this type, then the stream ends
    delta_usage_extra: dict[str, int] = field(default_factory=dict)  # cumulative counts repeated on message_delta


@dataclass
class ErrorReply:
    status: int
    error_type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error_reply(status: int, message: str | None = None, retry_after_ms: int | None = None) -> ErrorReply:
    """The error Anthropic sends for `status`, with its documented error type."""
    error_type = ERROR_TYPES[status]
    headers = {} if retry_after_ms is None else {"retry-after-ms": str(retry_after_ms)}
    return ErrorReply(status, error_type, message or f"fake {error_type}", headers)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeAnthropic:
    def __init__(self) -> None:
        self.default_reply: MessageReply | ErrorReply = MessageReply()
        self.count_tokens_result = 42
        self.requests: list[RecordedRequest] = []
        self._replies: deque[MessageReply | ErrorReply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval so that stop() returns quickly.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-anthropic", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def queue(self, *replies: MessageReply | ErrorReply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def start(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on a slow reply
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _next_reply(self) -> MessageReply | ErrorReply:
        with self._lock:
            return self._replies.popleft() if self._replies else self.default_reply

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


def _handler_for(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fake-anthropic"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            path = self.path.split("?", 1)[0]
            fake._record(RecordedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            try:
                if path == "/v1/messages/count_tokens":
                    self._send_json(200, {"input_tokens": fake.count_tokens_result})
                elif path == "/v1/messages":
                    self._answer_message(fake._next_reply(), body, body.get("model", ""))
                elif path.startswith("/model/") and path.endswith("/invoke"):
                    self._answer_message(fake._next_reply(), body, path[len("/model/") : -len("/invoke")])
                elif "/publishers/anthropic/models/" in path:  # Vertex: .../models/{model}:rawPredict
                    model = path.rsplit("/", 1)[1].split(":", 1)[0]
                    self._answer_message(fake._next_reply(), body, model)
                else:
                    self._send_error(ErrorReply(404, "not_found_error", f"no route {path}"))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away (early break, timeout): nothing to answer

        def _answer_message(self, reply: MessageReply | ErrorReply, body: dict[str, Any], model: str) -> None:
            if reply.delay and fake._stopping.wait(reply.delay):
                return
            if isinstance(reply, ErrorReply):
                self._send_error(reply)
            elif body.get("stream"):
                self._send_stream(reply, model)
            else:
                self._send_json(200, _message_json(reply, model))

        def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", "req_fake_0001")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_error(self, reply: ErrorReply) -> None:
            payload = {"type": "error", "error": {"type": reply.error_type, "message": reply.message}}
            self._send_json(reply.status, payload, reply.headers)

        def _send_stream(self, reply: MessageReply, model: str) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("request-id", "req_fake_0001")
            self.end_headers()  # HTTP/1.0: the body ends when the connection closes
            for event in _stream_events(reply, model):
                self.wfile.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


def _message_json(reply: MessageReply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.thinking is not None:
        content.append({"type": "thinking", "thinking": reply.thinking, "signature": "sig_fake"})
    content.append({"type": "text", "text": reply.text})
    return {
        "id": reply.message_id,
        "type": "message",
        "role": "assistant",
        "model": reply.model or model,
        "content": content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": reply.usage.as_json(),
    }


def _split(text: str, parts: int) -> list[str]:
    size = max(1, -(-len(text) // max(parts, 1)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _stream_events(reply: MessageReply, model: str) -> list[dict[str, Any]]:
    """The SSE events of a streamed message, in the order Anthropic sends them.

    message_start carries the input side of usage (and a placeholder output count);
    message_delta carries the final, cumulative output count.
    """
    usage = reply.usage
    start_usage = usage.as_json() | {"output_tokens": 1}
    start_usage.pop("output_tokens_details", None)
    message = _message_json(reply, model) | {"content": [], "stop_reason": None, "usage": start_usage}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}, {"type": "ping"}]

    index = 0
    if reply.thinking is not None:
        events += [
            {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": reply.thinking}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig_fake"}},
            {"type": "content_block_stop", "index": 0},
        ]
        index = 1
    events.append({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
    for piece in _split(reply.text, reply.deltas):
        events.append({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})
        if reply.error_after_first_delta:
            error = {"type": reply.error_after_first_delta, "message": "fake mid-stream failure"}
            return events + [{"type": "error", "error": error}]
    events.append({"type": "content_block_stop", "index": index})

    delta_usage: dict[str, Any] = {"output_tokens": usage.output_tokens, **reply.delta_usage_extra}
    if usage.thinking_tokens is not None:
        delta_usage["output_tokens_details"] = {"thinking_tokens": usage.thinking_tokens}
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
            "usage": delta_usage,
        }
    )
    events.append({"type": "message_stop"})
    return events
