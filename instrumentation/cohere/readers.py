"""Read Cohere's v2 requests and answers into a `GenAICall`.

Tokens are those Cohere bills, `usage.billed_units` (what its prices apply to); the
raw `usage.tokens` also count the prompt Cohere adds itself and are not what is
charged. `usage.cached_tokens` (prompt tokens served from Cohere's cache) is recorded
as cache read when it fits inside the billed input, which the conventions require.
Cohere sends counts as JSON numbers that the SDK reads as floats: kept as integers.
"""
from __future__ import annotations

from typing import Any

from .._genai import GenAICall, Usage
from .._genai import attributes as attr

REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"

# Method keyword -> span attribute.
_REQUEST_FIELDS = {
    "max_tokens": attr.REQUEST_MAX_TOKENS,
    "temperature": attr.REQUEST_TEMPERATURE,
    "p": attr.REQUEST_TOP_P,
    "k": REQUEST_TOP_K,
    "seed": attr.REQUEST_SEED,
    "presence_penalty": attr.REQUEST_PRESENCE_PENALTY,
    "frequency_penalty": attr.REQUEST_FREQUENCY_PENALTY,
}


def add_request_attributes(attributes: dict, kwargs: dict) -> None:
    # Calls pass few keywords: walk them rather than probe for every option.
    for field, value in kwargs.items():
        name = _REQUEST_FIELDS.get(field)
        # The SDK's "not given" marker (OMIT) is none of these types.
        if name is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[name] = value
    stop = kwargs.get("stop_sequences")
    if isinstance(stop, (list, tuple)) and stop:
        attributes[REQUEST_STOP_SEQUENCES] = [str(s) for s in stop]
    formats = kwargs.get("embedding_types")
    if isinstance(formats, (list, tuple)) and formats:
        attributes[attr.REQUEST_ENCODING_FORMATS] = [str(f) for f in formats]


def count(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def usage_from(usage: Any) -> Usage:
    billed = getattr(usage, "billed_units", None)
    input_tokens = count(getattr(billed, "input_tokens", None))
    cached = count(getattr(usage, "cached_tokens", None))
    if cached is not None and (input_tokens is None or cached > input_tokens):
        cached = None
    return Usage(input_tokens=input_tokens, output_tokens=count(getattr(billed, "output_tokens", None)),
                 cache_read_tokens=cached)


def read_chat(call: GenAICall, response: Any) -> None:
    """A `V2ChatResponse` (it names no model: the request's stands)."""
    call.response_id = getattr(response, "id", None)
    reason = getattr(response, "finish_reason", None)
    if reason:
        call.finish_reasons = (str(reason),)
    usage = getattr(response, "usage", None)
    if usage is not None:
        call.usage = usage_from(usage)
    if call.capture_content:
        call.capture_output([text_message(message_text(getattr(response, "message", None)), reason)])


def read_embed(call: GenAICall, response: Any) -> None:
    """An `EmbedByTypeResponse` / `EmbedFloatsResponse`: billed input tokens in `meta`."""
    call.response_id = getattr(response, "id", None)
    billed = getattr(getattr(response, "meta", None), "billed_units", None)
    tokens = count(getattr(billed, "input_tokens", None))
    if tokens is not None:
        call.usage = Usage(input_tokens=tokens)


def message_text(message: Any) -> str:
    return "".join(getattr(part, "text", None) or "" for part in getattr(message, "content", None) or ())


def text_message(text: str, finish_reason: Any) -> dict:
    message: dict = {"role": "assistant", "parts": [{"type": "text", "content": text}]}
    if finish_reason:
        message["finish_reason"] = str(finish_reason)
    return message


def capture_input(call: GenAICall, kwargs: dict) -> None:
    messages = kwargs.get("messages")
    if isinstance(messages, (list, tuple)):
        call.capture_input([_message(m) for m in messages])
    elif isinstance(kwargs.get("texts"), (list, tuple)):
        call.capture_input(list(kwargs["texts"]))


def _message(message: Any) -> Any:
    get = message.get if isinstance(message, dict) else lambda name: getattr(message, name, None)
    content = get("content")
    text = content if isinstance(content, str) else "".join(
        (part.get("text") if isinstance(part, dict) else getattr(part, "text", None)) or "" for part in content or ())
    return {"role": get("role"), "parts": [{"type": "text", "content": text}]}
