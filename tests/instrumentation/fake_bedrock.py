"""A local HTTP server that speaks the `bedrock-runtime` wire format, including the AWS
event-stream binary framing of the streamed operations.

    with FakeBedrock() as fake:
        fake.queue(ConverseReply(usage={"inputTokens": 10, "outputTokens": 2, "totalTokens": 12}))
        client = boto3.client("bedrock-runtime", endpoint_url=fake.base_url, ...)

Routes: POST /model/{modelId}/converse (JSON), /converse-stream (event stream of
messageStart ... metadata), /invoke (the model family's JSON body as given, with
Bedrock's token-count headers) and /invoke-with-response-stream (event stream of
`chunk` events, each the base64 of one family JSON chunk). Errors carry botocore's
`x-amzn-errortype`; a stream can end in an exception event instead.

An event-stream message is: total length and headers length (4-byte big-endian each),
the CRC32 of those 8 bytes, the headers (name length byte, name, value type 7 = string,
2-byte value length, value), the payload, and the CRC32 of everything before it.
"""
from __future__ import annotations

import base64
import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from fake_server import ErrorReply, Exchange, FakeServer


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    encoded_headers = b"".join(
        struct.pack("B", len(name.encode())) + name.encode() + b"\x07" + struct.pack(">H", len(value.encode()))
        + value.encode()
        for name, value in headers.items()
    )
    total = 12 + len(encoded_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded_headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(event_type: str, payload: dict) -> bytes:
    return event_message({":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
                         json.dumps(payload).encode())


def exception_event(exception_type: str, message: str) -> bytes:
    return event_message({":exception-type": exception_type, ":content-type": "application/json",
                          ":message-type": "exception"}, json.dumps({"message": message}).encode())


def aws_error(status: int, error_type: str, message: str = "fake failure") -> ErrorReply:
    return ErrorReply(status, {"message": message}, {"x-amzn-errortype": f"{error_type}:http://internal.amazon.com/"})


@dataclass
class ConverseReply:
    text: str = "Hello from the fake."
    usage: dict = field(default_factory=lambda: {"inputTokens": 12, "outputTokens": 6, "totalTokens": 18})
    stop_reason: str = "end_turn"
    deltas: int = 3
    service_tier: str | None = None
    stream_exception: str | None = None  # an exception event of this type after the first delta


@dataclass
class InvokeReply:
    body: dict  # the model family's response JSON
    token_headers: tuple[int, int] | None = None  # Bedrock's X-Amzn-Bedrock-Input/Output-Token-Count
    service_tier: str | None = None


@dataclass
class InvokeStreamReply:
    chunks: list[dict]  # the model family's JSON chunks
    invocation_metrics: dict | None = None  # added to the last chunk, as Bedrock does
    exception_after: int | None = None  # an exception event after this many chunks


class FakeBedrock(FakeServer):
    name = "fake-bedrock"

    def __init__(self) -> None:
        super().__init__()
        self.default_reply = ConverseReply()

    def model_ids(self) -> list[str]:
        return [unquote(r.path.split("/")[2]) for r in self.requests]

    def answer(self, exchange: Exchange) -> None:
        parts = exchange.request.path.split("?", 1)[0].split("/", 3)
        action = parts[3] if len(parts) == 4 and parts[1] == "model" else ""
        reply = self.next_reply()
        if isinstance(reply, ErrorReply):
            exchange.send_error(reply)
        elif action == "converse":
            body: dict[str, Any] = {"output": {"message": {"role": "assistant", "content": [{"text": reply.text}]}},
                                    "stopReason": reply.stop_reason, "usage": reply.usage,
                                    "metrics": {"latencyMs": 120}}
            if reply.service_tier:
                body["serviceTier"] = {"type": reply.service_tier}
            exchange.send_json(200, body)
        elif action == "converse-stream":
            exchange.start_stream("application/vnd.amazon.eventstream")
            for message in _converse_events(reply):
                exchange.write(message)
        elif action == "invoke":
            headers = {}
            if reply.token_headers:
                headers = {"x-amzn-bedrock-input-token-count": str(reply.token_headers[0]),
                           "x-amzn-bedrock-output-token-count": str(reply.token_headers[1])}
            if reply.service_tier:
                headers["x-amzn-bedrock-service-tier"] = reply.service_tier
            exchange.send_bytes(200, json.dumps(reply.body).encode(), "application/json", headers)
        elif action == "invoke-with-response-stream":
            exchange.start_stream("application/vnd.amazon.eventstream")
            for message in _invoke_events(reply):
                exchange.write(message)
        else:
            exchange.send_error(aws_error(404, "ResourceNotFoundException", f"no route {action}"))


def _converse_events(reply: ConverseReply) -> list[bytes]:
    size = max(1, -(-len(reply.text) // reply.deltas))
    messages = [event("messageStart", {"role": "assistant"})]
    for i in range(0, len(reply.text), size):
        messages.append(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": reply.text[i:i + size]}}))
        if reply.stream_exception:
            return messages + [exception_event(reply.stream_exception, "fake mid-stream failure")]
    messages += [event("contentBlockStop", {"contentBlockIndex": 0}),
                 event("messageStop", {"stopReason": reply.stop_reason}),
                 event("metadata", {"usage": reply.usage, "metrics": {"latencyMs": 120}})]
    return messages


def _invoke_events(reply: InvokeStreamReply) -> list[bytes]:
    messages = []
    for number, chunk in enumerate(reply.chunks, 1):
        if number == len(reply.chunks) and reply.invocation_metrics:
            chunk = {**chunk, "amazon-bedrock-invocationMetrics": reply.invocation_metrics}
        messages.append(event("chunk", {"bytes": base64.b64encode(json.dumps(chunk).encode()).decode()}))
        if reply.exception_after == number:
            return messages + [exception_event("modelStreamErrorException", "fake mid-stream failure")]
    return messages
