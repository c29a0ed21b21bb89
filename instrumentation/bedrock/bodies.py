"""Read `invoke_model` / `invoke_model_with_response_stream` bodies, whose JSON is each
model family's own, into a `GenAICall`.

Usage, by what the body reports (checked per family, by the model id):
- Anthropic: the Messages API usage (`input_tokens` without the cache, plus
  `cache_read_input_tokens` and `cache_creation_input_tokens`); streamed, the input
  side on `message_start` and the cumulative output on `message_delta`.
- Amazon Nova: `usage.inputTokens` (without the cache), `outputTokens`,
  `cacheReadInputTokenCount`, `cacheWriteInputTokenCount`; streamed, on `metadata`.
- Amazon Titan: `inputTextTokenCount` and `results[].tokenCount` (embeddings: input only).
- Meta Llama: `prompt_token_count`, `generation_token_count` (cumulative when streamed).
- Mistral, Cohere and any other family report no counts in the body: Bedrock's own are
  used, the `X-Amzn-Bedrock-Input-Token-Count` / `-Output-Token-Count` response headers,
  or a stream's last chunk's `amazon-bedrock-invocationMetrics`.
A family's own counts win over Bedrock's, because only they split the cache apart.
"""
from __future__ import annotations

import json
from typing import Any

from .._genai import GenAICall, Usage
from .._genai import attributes as attr

REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"

# Family -> (body path, span attribute) of the request options worth recording.
_REQUEST_FIELDS = {
    "anthropic": ((("max_tokens",), attr.REQUEST_MAX_TOKENS), (("temperature",), attr.REQUEST_TEMPERATURE),
                  (("top_p",), attr.REQUEST_TOP_P), (("top_k",), REQUEST_TOP_K)),
    "nova": ((("inferenceConfig", "max_new_tokens"), attr.REQUEST_MAX_TOKENS),
             (("inferenceConfig", "maxTokens"), attr.REQUEST_MAX_TOKENS),
             (("inferenceConfig", "temperature"), attr.REQUEST_TEMPERATURE),
             (("inferenceConfig", "topP"), attr.REQUEST_TOP_P), (("inferenceConfig", "top_p"), attr.REQUEST_TOP_P),
             (("inferenceConfig", "topK"), REQUEST_TOP_K), (("inferenceConfig", "top_k"), REQUEST_TOP_K)),
    "titan": ((("textGenerationConfig", "maxTokenCount"), attr.REQUEST_MAX_TOKENS),
              (("textGenerationConfig", "temperature"), attr.REQUEST_TEMPERATURE),
              (("textGenerationConfig", "topP"), attr.REQUEST_TOP_P)),
    "llama": ((("max_gen_len",), attr.REQUEST_MAX_TOKENS), (("temperature",), attr.REQUEST_TEMPERATURE),
              (("top_p",), attr.REQUEST_TOP_P)),
    "mistral": ((("max_tokens",), attr.REQUEST_MAX_TOKENS), (("temperature",), attr.REQUEST_TEMPERATURE),
                (("top_p",), attr.REQUEST_TOP_P), (("top_k",), REQUEST_TOP_K)),
    "cohere": ((("max_tokens",), attr.REQUEST_MAX_TOKENS), (("temperature",), attr.REQUEST_TEMPERATURE),
               (("p",), attr.REQUEST_TOP_P), (("k",), REQUEST_TOP_K)),
}
_STOP_FIELDS = {"anthropic": ("stop_sequences",), "nova": ("inferenceConfig", "stopSequences"),
                "titan": ("textGenerationConfig", "stopSequences"), "mistral": ("stop",),
                "cohere": ("stop_sequences",)}


def family(model: str) -> str:
    """The model family of a Bedrock model id, inference profile id or ARN."""
    for marker, name in (("anthropic.", "anthropic"), ("amazon.nova", "nova"), ("amazon.titan", "titan"),
                         ("meta.llama", "llama"), ("mistral.", "mistral"), ("cohere.", "cohere")):
        if marker in model:
            return name
    return ""


def decode(body: Any) -> Any:
    """The request body as JSON, when it is JSON (bytes, str, or not yet read: None)."""
    if isinstance(body, (bytes, bytearray, str)):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return None


def operation(model: str, body: Any) -> str:
    if "embed" in model:
        return attr.OPERATION_EMBEDDINGS
    if isinstance(body, dict) and "messages" not in body and ("prompt" in body or "inputText" in body):
        return attr.OPERATION_TEXT_COMPLETION
    return attr.OPERATION_CHAT


def add_request_attributes(attributes: dict, model: str, body: Any) -> None:
    if not isinstance(body, dict):
        return
    kind = family(model)
    for path, name in _REQUEST_FIELDS.get(kind, ()):
        value = _at(body, path)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[name] = value
    stop = _at(body, _STOP_FIELDS.get(kind, ()))
    if isinstance(stop, list) and stop:
        attributes[REQUEST_STOP_SEQUENCES] = [str(s) for s in stop]


def read_response(call: GenAICall, model: str, body: Any, headers: dict) -> None:
    """A whole InvokeModel answer: its JSON body and its HTTP headers."""
    counts = _Counts()
    if isinstance(body, dict):
        kind = family(model)
        if kind == "anthropic":
            call.response_id = body.get("id")
            counts.read_anthropic(body.get("usage"))
            _finish(call, body.get("stop_reason"))
        elif kind == "nova":
            counts.read_nova(body.get("usage"))
            _finish(call, body.get("stopReason"))
        elif kind == "titan":
            results = body.get("results") or ()
            counts.input = body.get("inputTextTokenCount")
            if results:
                counts.output = sum(r.get("tokenCount") or 0 for r in results)
                _finish(call, *(r.get("completionReason") for r in results))
        elif kind == "llama":
            counts.input, counts.output = body.get("prompt_token_count"), body.get("generation_token_count")
            _finish(call, body.get("stop_reason"))
        else:  # Mistral (text or chat bodies), Cohere and others
            choices = body.get("outputs") or body.get("choices") or body.get("generations") or ()
            _finish(call, *(c.get("stop_reason") or c.get("finish_reason") for c in choices if isinstance(c, dict)))
            _finish(call, body.get("finish_reason"))
            call.response_id = call.response_id or body.get("id")
        if call.capture_content:
            call.capture_output([_output_message(body)])
    if counts.input is None and counts.output is None:
        counts.read_headers(headers)
    call.usage = counts.usage()


class StreamReader:
    """`on_chunk` for `invoke_model_with_response_stream`: each event is
    `{"chunk": {"bytes": b"<the family's JSON chunk>"}}`."""

    __slots__ = ("kind", "counts", "bedrock_counts", "texts")

    def __init__(self, model: str, capture_content: bool) -> None:
        self.kind = family(model)
        self.counts = _Counts()  # what the family's chunks said
        self.bedrock_counts = _Counts()  # what Bedrock's invocation metrics said
        self.texts: list[str] | None = [] if capture_content else None

    def __call__(self, call: GenAICall, event: Any) -> bool:
        data = (event.get("chunk") or {}).get("bytes") if isinstance(event, dict) else None
        if not data:
            return False
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            return False
        kind = self.kind
        if kind == "anthropic":
            self._anthropic(call, chunk)
        elif kind == "nova":
            if "metadata" in chunk:
                self.counts.read_nova(chunk["metadata"].get("usage"))
            elif "messageStop" in chunk:
                _finish(call, chunk["messageStop"].get("stopReason"))
            elif self.texts is not None and "contentBlockDelta" in chunk:
                self.texts.append(((chunk["contentBlockDelta"].get("delta") or {}).get("text")) or "")
        elif kind == "llama":
            if chunk.get("prompt_token_count") is not None:
                self.counts.input = chunk["prompt_token_count"]
            if chunk.get("generation_token_count") is not None:
                self.counts.output = chunk["generation_token_count"]  # cumulative
            _finish(call, chunk.get("stop_reason"))
            if self.texts is not None:
                self.texts.append(chunk.get("generation") or "")
        else:
            for choice in chunk.get("outputs") or chunk.get("choices") or ():
                if isinstance(choice, dict):
                    _finish(call, choice.get("stop_reason") or choice.get("finish_reason"))
                    if self.texts is not None:
                        self.texts.append(choice.get("text") or "")
        metrics = chunk.get(INVOCATION_METRICS)
        if isinstance(metrics, dict):
            self.bedrock_counts.read_invocation_metrics(metrics)
        counts = self.counts if self.counts.input is not None or self.counts.output is not None \
            else self.bedrock_counts
        call.usage = counts.usage()
        if self.texts is not None and call.finish_reasons:
            reason = call.finish_reasons[0]
            call.capture_output([{"role": "assistant", "parts": [{"type": "text", "content": "".join(self.texts)}],
                                  "finish_reason": reason}])
        return False

    def _anthropic(self, call: GenAICall, chunk: dict) -> None:
        kind = chunk.get("type")
        if kind == "content_block_delta":
            if self.texts is not None:
                self.texts.append((chunk.get("delta") or {}).get("text") or "")
        elif kind == "message_start":
            message = chunk.get("message") or {}
            call.response_id = message.get("id")
            usage = dict(message.get("usage") or {})
            usage.pop("output_tokens", None)  # a placeholder until message_delta
            self.counts.read_anthropic(usage)
        elif kind == "message_delta":
            _finish(call, (chunk.get("delta") or {}).get("stop_reason"))
            self.counts.read_anthropic(chunk.get("usage"))  # cumulative totals: they replace


class _Counts:
    """Token counts as a family reports them: input without the cache, cache apart."""

    __slots__ = ("input", "output", "cache_read", "cache_write")

    def __init__(self) -> None:
        self.input = self.output = self.cache_read = self.cache_write = None

    def usage(self) -> Usage | None:
        if self.input is None and self.output is None:
            return None
        return Usage.from_separate_cache(input_tokens=self.input, output_tokens=self.output,
                                         cache_read_tokens=self.cache_read, cache_write_tokens=self.cache_write)

    def _take(self, source: Any, names: tuple[tuple[str, str], ...]) -> None:
        if not isinstance(source, dict):
            return
        for field, key in names:
            value = source.get(key)
            if isinstance(value, int):
                setattr(self, field, value)

    def read_anthropic(self, usage: Any) -> None:
        self._take(usage, (("input", "input_tokens"), ("output", "output_tokens"),
                           ("cache_read", "cache_read_input_tokens"), ("cache_write", "cache_creation_input_tokens")))

    def read_nova(self, usage: Any) -> None:
        self._take(usage, (("input", "inputTokens"), ("output", "outputTokens"),
                           ("cache_read", "cacheReadInputTokenCount"), ("cache_write", "cacheWriteInputTokenCount")))

    def read_invocation_metrics(self, metrics: dict) -> None:
        self._take(metrics, (("input", "inputTokenCount"), ("output", "outputTokenCount"),
                             ("cache_read", "cacheReadInputTokenCount"), ("cache_write", "cacheWriteInputTokenCount")))

    def read_headers(self, headers: dict) -> None:
        for field, name in (("input", "x-amzn-bedrock-input-token-count"),
                            ("output", "x-amzn-bedrock-output-token-count"),
                            ("cache_read", "x-amzn-bedrock-cache-read-input-token-count"),
                            ("cache_write", "x-amzn-bedrock-cache-write-input-token-count")):
            value = headers.get(name)
            if value is not None and str(value).isdigit():
                setattr(self, field, int(value))


def _at(body: dict, path: tuple[str, ...]) -> Any:
    value: Any = body
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if path else None


def _finish(call: GenAICall, *reasons: Any) -> None:
    found = tuple(str(r) for r in reasons if r)
    if found:
        call.finish_reasons = found


def input_messages(body: Any) -> Any:
    """The prompt of a request body, for opt-in capture: its messages or its prompt text."""
    if not isinstance(body, dict):
        return None
    if "messages" in body:
        return body["messages"]
    prompt = body.get("prompt") or body.get("inputText") or body.get("texts")
    return [{"role": "user", "parts": [{"type": "text", "content": prompt}]}] if prompt else None


def _output_message(body: dict) -> dict:
    return {"role": "assistant", "parts": [body]}  # each family's own shape, clipped by the capture
