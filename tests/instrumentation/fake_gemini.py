"""A local HTTP server that speaks the Gemini API's and Vertex AI's wire format.

    with FakeGemini() as fake:
        fake.queue(GeminiReply(text="Hi", usage={"promptTokenCount": 10, "candidatesTokenCount": 2}))
        client = genai.Client(api_key="k", http_options=http_options_for(fake))

Endpoints (any API version, Gemini API and Vertex AI paths alike):
`.../models/{model}:generateContent`, `:streamGenerateContent?alt=sse` (server-sent
events, `usageMetadata` on every chunk, cumulative), `:batchEmbedContents`,
`:embedContent` and Vertex AI's `:predict` for embeddings. Errors have Google's
`{"error": {"code", "message", "status"}}` shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from fake_server import ErrorReply, Exchange, FakeServer

STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                500: "INTERNAL", 503: "UNAVAILABLE"}


def google_error(status: int, message: str = "fake failure") -> ErrorReply:
    return ErrorReply(status, {"error": {"code": status, "message": message, "status": STATUS_NAMES[status]}})


@dataclass
class GeminiReply:
    text: str = "Hello from the fake."
    # usageMetadata exactly as sent: Google leaves zero counts out.
    usage: dict = field(default_factory=lambda: {"promptTokenCount": 12, "candidatesTokenCount": 6,
                                                 "totalTokenCount": 18})
    model_version: str | None = None  # None echoes the requested model
    response_id: str = "resp-fake-0001"
    finish_reason: str = "STOP"
    thought: str | None = None  # a thought-summary part before the text
    chunks: int = 3  # how many chunks a streamed answer has
    error_after_first_chunk: bool = False  # a streamed error object after the first chunk


@dataclass
class EmbeddingReply:
    vectors: int = 1
    usage: dict | None = None  # usageMetadata, when the API reports it
    token_counts: tuple[int, ...] = ()  # Vertex AI predict: statistics.token_count per instance


class FakeGemini(FakeServer):
    name = "fake-gemini"

    def __init__(self) -> None:
        super().__init__()
        self.default_reply = GeminiReply()

    def answer(self, exchange: Exchange) -> None:
        head = exchange.request.path.split("?", 1)[0]
        method = head.rsplit(":", 1)[-1]
        reply = self.next_reply()
        model = head.rsplit(":", 1)[0].rsplit("/", 1)[-1]
        if isinstance(reply, GeminiReply) and reply.model_version is None:
            reply = replace(reply, model_version=model)
        if isinstance(reply, ErrorReply):
            exchange.send_error(reply)
        elif method == "generateContent":
            exchange.send_json(200, _response(reply, reply.text, final=True))
        elif method == "streamGenerateContent":
            exchange.send_events(_chunks(reply))
        elif method in ("batchEmbedContents", "embedContent", "predict"):
            exchange.send_json(200, _embeddings(method, reply if isinstance(reply, EmbeddingReply) else EmbeddingReply()))
        else:
            exchange.send_error(google_error(404, f"no route {head}"))


def _response(reply: GeminiReply, text: str, *, final: bool, usage: dict | None = None) -> dict[str, Any]:
    parts: list[dict] = []
    if reply.thought is not None and final:
        parts.append({"text": reply.thought, "thought": True})
    parts.append({"text": text})
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if final:
        candidate["finishReason"] = reply.finish_reason
    return {"candidates": [candidate], "usageMetadata": reply.usage if usage is None else usage,
            "modelVersion": reply.model_version, "responseId": reply.response_id}


def _chunks(reply: GeminiReply) -> list[dict[str, Any]]:
    size = max(1, -(-len(reply.text) // reply.chunks))
    pieces = [reply.text[i:i + size] for i in range(0, len(reply.text), size)] or [""]
    chunks = []
    for number, piece in enumerate(pieces, 1):
        final = number == len(pieces)
        # Intermediate chunks carry the prompt count and the output so far.
        partial = {"promptTokenCount": reply.usage.get("promptTokenCount", 0), "candidatesTokenCount": number}
        chunks.append(_response(reply, piece, final=final, usage=None if final else partial))
        if reply.error_after_first_chunk:
            return chunks + [{"error": {"code": 500, "message": "fake mid-stream failure", "status": "INTERNAL"}}]
    return chunks


def _embeddings(method: str, reply: EmbeddingReply) -> dict[str, Any]:
    values = [0.01, 0.02, 0.03]
    if method == "predict":
        counts = reply.token_counts or (1,) * reply.vectors
        return {"predictions": [{"embeddings": {"values": values, "statistics": {"token_count": n, "truncated": False}}}
                                for n in counts]}
    body: dict[str, Any] = ({"embeddings": [{"values": values}] * reply.vectors} if method == "batchEmbedContents"
                            else {"embedding": {"values": values}})
    if reply.usage is not None:
        body["usageMetadata"] = reply.usage
    return body
