"""A local HTTP server that speaks Cohere's v2 chat and embed wire format.

    with FakeCohere() as fake:
        fake.queue(CohereReply(billed=(10, 2)))
        client = cohere.ClientV2(api_key="k", base_url=fake.base_url)

POST /v2/chat answers JSON, or server-sent events (`message-start` ... `message-end`
with the usage) when the body asks for a stream; POST /v2/embed. Errors have Cohere's
`{"message": ...}` shape.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fake_server import ErrorReply, Exchange, FakeServer


def cohere_error(status: int, message: str = "fake failure") -> ErrorReply:
    return ErrorReply(status, {"message": message})


@dataclass
class CohereReply:
    text: str = "Hello from the fake."
    billed: tuple[int, int] = (12, 6)  # billed_units (input, output)
    raw_tokens: tuple[int, int] | None = None  # usage.tokens, when different (Cohere's own prompt added)
    cached_tokens: int | None = None
    reply_id: str = "chat-fake-0001"
    finish_reason: str = "COMPLETE"
    chunks: int = 3
    stream_error: str | None = None  # message-end carries this error instead of finishing


@dataclass
class EmbedReply:
    billed_input_tokens: int = 8
    vectors: int = 1


class FakeCohere(FakeServer):
    name = "fake-cohere"

    def __init__(self) -> None:
        super().__init__()
        self.default_reply = CohereReply()

    def answer(self, exchange: Exchange) -> None:
        body, path = exchange.request.body, exchange.request.path
        reply = self.next_reply()
        if isinstance(reply, ErrorReply):
            exchange.send_error(reply)
        elif path == "/v2/embed":
            reply = reply if isinstance(reply, EmbedReply) else EmbedReply()
            exchange.send_json(200, {
                "id": "embed-fake-0001", "response_type": "embeddings_by_type",
                "embeddings": {"float": [[0.1, 0.2]] * reply.vectors}, "texts": body.get("texts") or [],
                "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": reply.billed_input_tokens}}})
        elif path == "/v2/chat" and body.get("stream"):
            exchange.start_stream("text/event-stream")
            for event in _events(reply):
                exchange.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
        elif path == "/v2/chat":
            exchange.send_json(200, {
                "id": reply.reply_id, "finish_reason": reply.finish_reason,
                "message": {"role": "assistant", "content": [{"type": "text", "text": reply.text}]},
                "usage": _usage(reply)})
        else:
            exchange.send_error(cohere_error(404, f"no route {path}"))


def _usage(reply: CohereReply) -> dict[str, Any]:
    raw = reply.raw_tokens or reply.billed
    usage: dict[str, Any] = {"billed_units": {"input_tokens": reply.billed[0], "output_tokens": reply.billed[1]},
                             "tokens": {"input_tokens": raw[0], "output_tokens": raw[1]}}
    if reply.cached_tokens is not None:
        usage["cached_tokens"] = reply.cached_tokens
    return usage


def _events(reply: CohereReply) -> list[dict[str, Any]]:
    size = max(1, -(-len(reply.text) // reply.chunks))
    events: list[dict[str, Any]] = [
        {"type": "message-start", "id": reply.reply_id,
         "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}},
        {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
    ]
    for i in range(0, len(reply.text), size):
        events.append({"type": "content-delta", "index": 0,
                       "delta": {"message": {"content": {"text": reply.text[i:i + size]}}}})
    events.append({"type": "content-end", "index": 0})
    end: dict[str, Any] = {"finish_reason": "ERROR" if reply.stream_error else reply.finish_reason,
                           "usage": _usage(reply)}
    if reply.stream_error:
        end["error"] = reply.stream_error
    events.append({"type": "message-end", "delta": end})
    return events
