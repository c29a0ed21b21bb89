"""A local HTTP server speaking OpenAI's wire format, for tests with the real SDK.

    with FakeOpenAI() as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0)

Endpoints (any path prefix, so the Azure client's `/openai/deployments/<name>/…`
works too): `/chat/completions`, `/responses`, `/completions`, `/embeddings`,
each plain JSON or, with `"stream": true`, Server-Sent Events. Streamed chat and
completions send a final usage chunk only when the request asks for it with
`stream_options.include_usage`, as OpenAI does.

The usage figures are constants below so tests can state them literally.
`fail_next(status)`, `delay_next(seconds)` and `break_next_stream()` script the
next request; a request whose body contains `[[fail 500]]` (any status) fails with it,
for clients in another process that cannot script the server; `requests` records what
arrived. With `unique_ids=True` every answer carries its own id (`chatcmpl-fake-7`),
as a real provider's do, instead of the fixed ids below. The server also works as a plain
HTTP forward proxy (absolute request URLs), so a client can be pointed at a
real-looking host name (e.g. an Azure endpoint) without any name lookup.
"""
from __future__ import annotations

import base64
import json
import re
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_FAIL_MARKER = re.compile(r"\[\[fail (\d{3})\]\]")

CREATED = 1_750_000_000

# The dated snapshot that answers for a model alias, as OpenAI reports it.
SNAPSHOTS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "o4-mini": "o4-mini-2025-04-16",
}

# Chat completions, not streamed: 1200 prompt tokens of which 1024 were read from the
# cache and 64 written to it; 300 completion tokens of which 128 were reasoning.
CHAT_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 64, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 128, "audio_tokens": 0,
                                  "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
}
# Chat completions, streamed (usage chunk): 1500 prompt (1280 cached), 42 completion (10 reasoning).
CHAT_STREAM_USAGE = {
    "prompt_tokens": 1500,
    "completion_tokens": 42,
    "total_tokens": 1542,
    "prompt_tokens_details": {"cached_tokens": 1280, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 10, "audio_tokens": 0},
}
CHAT_TEXT_PIECES = ("Hel", "lo", " the", "re")
# Responses API: 900 input (512 cached, 0 written), 250 output (200 reasoning).
RESPONSES_USAGE = {
    "input_tokens": 900,
    "input_tokens_details": {"cached_tokens": 512, "cache_write_tokens": 0},
    "output_tokens": 250,
    "output_tokens_details": {"reasoning_tokens": 200},
    "total_tokens": 1150,
}
RESPONSES_TEXT = "Paris is the capital of France."
# Legacy completions: 20 prompt, 16 completion; streamed: 25 prompt, 7 completion.
COMPLETION_USAGE = {"prompt_tokens": 20, "completion_tokens": 16, "total_tokens": 36}
COMPLETION_STREAM_USAGE = {"prompt_tokens": 25, "completion_tokens": 7, "total_tokens": 32}
# Embeddings: 8 input tokens.
EMBEDDING_USAGE = {"prompt_tokens": 8, "total_tokens": 8}
EMBEDDING = [0.25, -0.5, 0.125]

ERROR_BODIES = {
    401: {"message": "Incorrect API key provided: test.", "type": "invalid_request_error",
          "param": None, "code": "invalid_api_key"},
    429: {"message": "Rate limit reached for gpt-4o-mini.", "type": "requests",
          "param": None, "code": "rate_limit_exceeded"},
    500: {"message": "The server had an error while processing your request.", "type": "server_error",
          "param": None, "code": None},
}


@dataclass
class ReceivedRequest:
    method: str
    url: str  # the path, or the absolute URL when used as a proxy
    path: str
    headers: dict
    body: dict | None


class FakeOpenAI:
    def __init__(self, *, unique_ids: bool = False) -> None:
        self.requests: list[ReceivedRequest] = []  # what arrived, in order
        self.unique_ids = unique_ids
        self._answers = 0
        self._script: list[tuple[str, object]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # --- lifecycle ---
    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- scripting the next request ---
    def fail_next(self, status: int) -> None:
        self._push("fail", status)

    def delay_next(self, seconds: float) -> None:
        self._push("delay", seconds)

    def break_next_stream(self) -> None:
        """The next stream sends two chunks, then an error event instead of the rest."""
        self._push("break", None)

    def _push(self, kind: str, value: object) -> None:
        with self._lock:
            self._script.append((kind, value))

    def _pop(self) -> tuple[str, object] | None:
        with self._lock:
            return self._script.pop(0) if self._script else None

    def _fail_now(self, status: int) -> None:
        with self._lock:
            self._script.insert(0, ("fail", status))

    def _id(self, fixed: str) -> str:
        """The answer's id: `fixed`, or with unique ids its stem and a running number."""
        if not self.unique_ids:
            return fixed
        with self._lock:
            self._answers += 1
            return f"{fixed[:-1]}{self._answers}" if fixed[-1] == "1" else f"{fixed}-{self._answers}"


def _handler_for(fake: FakeOpenAI):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            fake.requests.append(ReceivedRequest("GET", self.path, urlsplit(self.path).path, dict(self.headers), None))
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            failure = _FAIL_MARKER.search(raw.decode("utf-8", "replace"))
            if failure:
                fake._fail_now(int(failure.group(1)))
            path = urlsplit(self.path).path
            fake.requests.append(ReceivedRequest("POST", self.path, path, dict(self.headers), body))
            try:
                self._answer(path, body or {})
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def _answer(self, path: str, body: dict) -> None:
            step = fake._pop()
            if step is not None and step[0] == "delay":
                time.sleep(float(step[1]))
                step = None
            if step is not None and step[0] == "fail":
                status = int(step[1])
                # A short retry-after keeps retry tests fast; the SDK honours it.
                return self._json(status, {"error": ERROR_BODIES.get(status, ERROR_BODIES[500])},
                                  {"retry-after-ms": "10"})
            broken = step is not None and step[0] == "break"
            model = body.get("model") or "unknown-model"
            served = SNAPSHOTS.get(model, model)
            streaming = bool(body.get("stream"))
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            if path.endswith("/chat/completions"):
                if streaming:
                    return self._sse(_with_id(_chat_chunks(served, include_usage),
                                              fake._id("chatcmpl-fake-stream")), broken)
                return self._json(200, {**_chat_completion(served, body), "id": fake._id("chatcmpl-fake-1")})
            if path.endswith("/responses"):
                if streaming:
                    return self._sse(_with_id(_response_events(served), fake._id("resp_fake_1")), broken)
                return self._json(200, {**_response(served, "completed"), "id": fake._id("resp_fake_1")})
            if path.endswith("/completions"):
                if streaming:
                    return self._sse(_with_id(_completion_chunks(served, include_usage),
                                              fake._id("cmpl-fake-stream")), broken)
                return self._json(200, {**_completion(served), "id": fake._id("cmpl-fake-1")})
            if path.endswith("/embeddings"):
                return self._json(200, _embeddings(served, body))
            return self._json(404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}})

        def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("x-request-id", "req_fake")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _sse(self, events: list[tuple[str | None, dict | str]], broken: bool) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("x-request-id", "req_fake")
            self.end_headers()
            if broken:
                events = events[:2] + [(None, {"error": {"message": "The server had an error while "
                                                          "streaming.", "type": "server_error"}})]
            for event, data in events:
                text = data if isinstance(data, str) else json.dumps(data)
                prefix = f"event: {event}\n" if event else ""
                self.wfile.write(f"{prefix}data: {text}\n\n".encode())
                self.wfile.flush()

    return Handler


def _with_id(events: list, answer_id: str) -> list:
    """A stream's events with `answer_id` as the id of its chunks or its response."""
    for _, data in events:
        if isinstance(data, dict):
            if "response" in data:
                data["response"]["id"] = answer_id
            elif "id" in data:
                data["id"] = answer_id
    return events


def _chat_completion(model: str, body: dict) -> dict:
    # Structured output requests get JSON shaped like `{"text": ...}`.
    structured = (body.get("response_format") or {}).get("type") == "json_schema"
    content = json.dumps({"text": "Hello there"}) if structured else "Hello there"
    return {
        "id": "chatcmpl-fake-1",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": CHAT_USAGE,
        "service_tier": body.get("service_tier") or "default",
        "system_fingerprint": "fp_fake",
    }


def _chat_chunks(model: str, include_usage: bool) -> list:
    def chunk(delta: dict, finish_reason: str | None) -> dict:
        data = {
            "id": "chatcmpl-fake-stream", "object": "chat.completion.chunk", "created": CREATED,
            "model": model, "service_tier": "default", "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if include_usage:
            data["usage"] = None
        return data

    chunks = [chunk({"role": "assistant", "content": ""}, None)]
    chunks += [chunk({"content": piece}, None) for piece in CHAT_TEXT_PIECES]
    chunks.append(chunk({}, "stop"))
    if include_usage:
        chunks.append({
            "id": "chatcmpl-fake-stream", "object": "chat.completion.chunk", "created": CREATED,
            "model": model, "service_tier": "default", "system_fingerprint": "fp_fake",
            "choices": [], "usage": CHAT_STREAM_USAGE,
        })
    return [(None, c) for c in chunks] + [(None, "[DONE]")]


def _response(model: str, status: str, with_usage: bool = True) -> dict:
    done = status == "completed"
    return {
        "id": "resp_fake_1",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": model,
        "output": [{
            "type": "message", "id": "msg_fake_1", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": RESPONSES_TEXT, "annotations": []}],
        }] if done else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "service_tier": "default",
        "usage": RESPONSES_USAGE if with_usage and done else None,
    }


def _response_events(model: str) -> list:
    """The event sequence of a streamed text answer, as the Responses API sends it."""
    message = {"type": "message", "id": "msg_fake_1", "status": "in_progress", "role": "assistant", "content": []}
    empty_part = {"type": "output_text", "text": "", "annotations": []}
    full_part = {"type": "output_text", "text": RESPONSES_TEXT, "annotations": []}
    where = {"item_id": "msg_fake_1", "output_index": 0, "content_index": 0}
    events: list = [
        {"type": "response.created", "response": _response(model, "in_progress")},
        {"type": "response.in_progress", "response": _response(model, "in_progress")},
        {"type": "response.output_item.added", "output_index": 0, "item": message},
        {"type": "response.content_part.added", **where, "part": empty_part},
    ]
    for n, piece in enumerate(RESPONSES_TEXT.split(" ")):
        events.append({"type": "response.output_text.delta", **where, "delta": piece if n == 0 else " " + piece,
                       "logprobs": []})
    events += [
        {"type": "response.output_text.done", **where, "text": RESPONSES_TEXT, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": full_part},
        {"type": "response.output_item.done", "output_index": 0,
         "item": {**message, "status": "completed", "content": [full_part]}},
        {"type": "response.completed", "response": _response(model, "completed")},
    ]
    return [(e["type"], {**e, "sequence_number": n}) for n, e in enumerate(events)]


def _completion(model: str) -> dict:
    return {
        "id": "cmpl-fake-1", "object": "text_completion", "created": CREATED, "model": model,
        "choices": [{"text": " a quick brown fox", "index": 0, "logprobs": None, "finish_reason": "length"}],
        "usage": COMPLETION_USAGE,
    }


def _completion_chunks(model: str, include_usage: bool) -> list:
    def chunk(text: str, finish_reason: str | None) -> dict:
        data = {"id": "cmpl-fake-stream", "object": "text_completion", "created": CREATED, "model": model,
                "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}]}
        if include_usage:
            data["usage"] = None
        return data

    chunks = [chunk(" jumps", None), chunk(" over", "stop")]
    if include_usage:
        chunks.append({"id": "cmpl-fake-stream", "object": "text_completion", "created": CREATED,
                       "model": model, "choices": [], "usage": COMPLETION_STREAM_USAGE})
    return [(None, c) for c in chunks] + [(None, "[DONE]")]


def _embeddings(model: str, body: dict) -> dict:
    if body.get("encoding_format") == "base64":
        vector: object = base64.b64encode(struct.pack(f"<{len(EMBEDDING)}f", *EMBEDDING)).decode()
    else:
        vector = EMBEDDING
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": vector}],
        "model": model,
        "usage": EMBEDDING_USAGE,
    }
