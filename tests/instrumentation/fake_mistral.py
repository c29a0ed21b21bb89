"""A local HTTP server that speaks Mistral's chat and embeddings wire format.

    with FakeMistral() as fake:
        fake.queue(MistralReply(usage={"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}))
        client = Mistral(api_key="k", server_url=fake.base_url)

POST /v1/chat/completions answers JSON, or server-sent events ending in `[DONE]` when
the body asks for a stream (usage on the last chunk, as Mistral sends it); POST
/v1/embeddings. Errors have Mistral's `{"object": "error", ...}` shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fake_server import ErrorReply, Exchange, FakeServer


def mistral_error(status: int, message: str = "fake failure") -> ErrorReply:
    return ErrorReply(status, {"object": "error", "message": message, "type": "invalid_request_error", "code": status})


@dataclass
class MistralReply:
    text: str = "Hello from the fake."
    usage: dict = field(default_factory=lambda: {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18})
    model: str | None = None  # None echoes the requested model
    reply_id: str = "cmpl-fake-0001"
    finish_reason: str = "stop"
    chunks: int = 3
    stream_usage: bool = True  # the last chunk carries the usage
    fail_after_first_chunk: bool = False  # the connection drops after the first chunk


@dataclass
class EmbeddingReply:
    prompt_tokens: int = 8
    vectors: int = 1


class FakeMistral(FakeServer):
    name = "fake-mistral"

    def __init__(self) -> None:
        super().__init__()
        self.default_reply = MistralReply()

    def answer(self, exchange: Exchange) -> None:
        body, path = exchange.request.body, exchange.request.path
        reply = self.next_reply()
        if isinstance(reply, ErrorReply):
            exchange.send_error(reply)
        elif path == "/v1/embeddings":
            reply = reply if isinstance(reply, EmbeddingReply) else EmbeddingReply()
            exchange.send_json(200, {
                "id": "emb-fake-0001", "object": "list", "model": body["model"],
                "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2]} for i in range(reply.vectors)],
                "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": 0,
                          "total_tokens": reply.prompt_tokens}})
        elif path == "/v1/chat/completions" and body.get("stream"):
            self._stream(exchange, reply, reply.model or body["model"])
        elif path == "/v1/chat/completions":
            exchange.send_json(200, {
                "id": reply.reply_id, "object": "chat.completion", "created": 1_750_000_000,
                "model": reply.model or body["model"], "usage": reply.usage,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                             "finish_reason": reply.finish_reason}]})
        else:
            exchange.send_error(mistral_error(404, f"no route {path}"))

    @staticmethod
    def _stream(exchange: Exchange, reply: MistralReply, model: str) -> None:
        size = max(1, -(-len(reply.text) // reply.chunks))
        pieces = [reply.text[i:i + size] for i in range(0, len(reply.text), size)]
        exchange.start_stream("text/event-stream")
        for number, piece in enumerate(pieces, 1):
            last = number == len(pieces)
            chunk: dict[str, Any] = {
                "id": reply.reply_id, "object": "chat.completion.chunk", "created": 1_750_000_000, "model": model,
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece},
                             "finish_reason": reply.finish_reason if last else None}]}
            if last and reply.stream_usage:
                chunk["usage"] = reply.usage
            exchange.write(b"data: " + _json(chunk) + b"\n\n")
            if reply.fail_after_first_chunk:
                exchange.write(b"data: {not json")  # a broken event, then the connection closes
                return
        exchange.write(b"data: [DONE]\n\n")


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()
