"""Read Mistral's requests and answers into a `GenAICall`.

Mistral counts like OpenAI: `prompt_tokens` includes the cached prompt tokens
(`prompt_tokens_details.cached_tokens`, billed at a tenth of the input price), and
`completion_tokens` includes what a reasoning model thought. The SDK keeps fields it
does not model (such as `prompt_tokens_details`) as extra fields.
"""
from __future__ import annotations

from typing import Any

from .._genai import GenAICall, Usage
from .._genai import attributes as attr

REQUEST_SERVICE_TIER = "mistral.request.service_tier"
RESPONSE_SERVICE_TIER = "mistral.response.service_tier"
REQUEST_TOP_K = "gen_ai.request.top_k"

# Method keyword -> span attribute.
_REQUEST_FIELDS = {
    "max_tokens": attr.REQUEST_MAX_TOKENS,
    "temperature": attr.REQUEST_TEMPERATURE,
    "top_p": attr.REQUEST_TOP_P,
    "top_k": REQUEST_TOP_K,
    "random_seed": attr.REQUEST_SEED,
    "presence_penalty": attr.REQUEST_PRESENCE_PENALTY,
    "frequency_penalty": attr.REQUEST_FREQUENCY_PENALTY,
    "service_tier": REQUEST_SERVICE_TIER,
}


def add_request_attributes(attributes: dict, kwargs: dict) -> None:
    # Calls pass few keywords: walk them rather than probe for every option.
    for field, value in kwargs.items():
        name = _REQUEST_FIELDS.get(field)
        # The SDK's "not given" marker (UNSET) is none of these types.
        if name is not None and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            attributes[name] = value
    choices = kwargs.get("n")
    if isinstance(choices, int) and choices != 1:
        attributes[attr.REQUEST_CHOICE_COUNT] = choices


def field(value: Any, name: str) -> Any:
    """A field of an SDK model (declared or extra: pydantic serves both as attributes)
    or of a dict (how extra nested objects arrive); None when absent."""
    if value is None:  # an optional object the answer left out (usage details, mostly)
        return None
    if isinstance(value, dict):
        return value.get(name)
    # Pydantic keeps declared fields in the instance's __dict__ and the others in
    # __pydantic_extra__: read there, as a failed attribute lookup raises (slowly) inside.
    declared = getattr(value, "__dict__", None)
    if declared is not None and name in declared:
        return declared[name]
    extra = getattr(value, "__pydantic_extra__", None)
    if isinstance(extra, dict):
        return extra.get(name)
    return getattr(value, name, None)


def usage_from(usage: Any) -> Usage:
    return Usage(
        input_tokens=field(usage, "prompt_tokens"),
        output_tokens=field(usage, "completion_tokens"),
        cache_read_tokens=field(field(usage, "prompt_tokens_details"), "cached_tokens"),
        reasoning_tokens=field(field(usage, "completion_tokens_details"), "reasoning_tokens"),
    )


def read_usage(call: GenAICall, usage: Any) -> None:
    call.usage = usage_from(usage)
    tier = field(usage, "service_tier")
    if isinstance(tier, str) and tier:
        call.set_attribute(RESPONSE_SERVICE_TIER, tier)


def read_chat(call: GenAICall, response: Any) -> None:
    """A `ChatCompletionResponse`."""
    call.response_id = field(response, "id")
    call.response_model = field(response, "model")
    choices = field(response, "choices") or ()
    reasons = tuple(str(c.finish_reason) for c in choices if getattr(c, "finish_reason", None))
    if reasons:
        call.finish_reasons = reasons
    usage = field(response, "usage")
    if usage is not None:
        read_usage(call, usage)
    if call.capture_content:
        call.capture_output([text_message(_text(getattr(c.message, "content", None)), c.finish_reason)
                             for c in choices])


def read_embeddings(call: GenAICall, response: Any) -> None:
    call.response_id = field(response, "id")
    call.response_model = field(response, "model")
    usage = field(response, "usage")
    if usage is not None:
        call.usage = Usage(input_tokens=field(usage, "prompt_tokens"))


def capture_input(call: GenAICall, kwargs: dict) -> None:
    messages = kwargs.get("messages")
    if isinstance(messages, (list, tuple)):
        call.capture_input([_message(m) for m in messages])
    elif isinstance(kwargs.get("inputs"), (str, list)):
        call.capture_input(kwargs["inputs"])


def _message(message: Any) -> Any:
    role, content = field(message, "role"), field(message, "content")
    return {"role": role, "parts": [{"type": "text", "content": _text(content)}]}


def _text(content: Any) -> str:
    """A message's content as text: a string, or a list of chunks with `text`."""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return "".join(str(field(chunk, "text") or field(chunk, "thinking") or "") for chunk in content)
    return "" if content is None else str(content)


def text_message(text: str, finish_reason: Any) -> dict:
    message: dict = {"role": "assistant", "parts": [{"type": "text", "content": text}]}
    if finish_reason:
        message["finish_reason"] = str(finish_reason)
    return message
