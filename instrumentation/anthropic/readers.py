"""Read what Anthropic answered into a `GenAICall`, and the prompt for opt-in capture.

Anthropic reports cache tokens beside `input_tokens`, so the conventions' input
count is the sum `input_tokens + cache_read_input_tokens +
cache_creation_input_tokens` (`Usage.from_separate_cache`). Thinking tokens are
already part of `output_tokens`; `output_tokens_details.thinking_tokens` says how
many of them were reasoning.

Objects are read by attribute with defaults: the SDK does not validate responses,
and Anthropic-compatible servers leave fields out.
"""
from __future__ import annotations

from typing import Any

from .._genai import GenAICall, Usage

# Anthropic-specific attributes, spelled as the anthropic SDK's own tracing spells them.
REQUEST_SERVICE_TIER = "anthropic.request.service_tier"
RESPONSE_SERVICE_TIER = "anthropic.response.service_tier"


def usage_from(usage: Any) -> Usage:
    """The conventions' usage from an Anthropic `Usage` (model or decoded JSON)."""
    return Usage.from_separate_cache(
        input_tokens=_field(usage, "input_tokens"),
        output_tokens=_field(usage, "output_tokens"),
        cache_read_tokens=_field(usage, "cache_read_input_tokens"),
        cache_write_tokens=_field(usage, "cache_creation_input_tokens"),
        reasoning_tokens=_field(_field(usage, "output_tokens_details"), "thinking_tokens"),
    )


def read_message(call: GenAICall, message: Any) -> None:
    """A whole `Message` / `BetaMessage` / `ParsedMessage`, or its decoded JSON body."""
    call.response_id = _field(message, "id")
    call.response_model = _field(message, "model")
    stop_reason = _field(message, "stop_reason")
    if stop_reason:
        call.finish_reasons = (str(stop_reason),)
    usage = _field(message, "usage")
    if usage is not None:
        call.usage = usage_from(usage)
        call.set_attribute(RESPONSE_SERVICE_TIER, _field(usage, "service_tier"))
    if call.capture_content:
        call.capture_output([output_message(_field(message, "content") or (), stop_reason)])


def output_message(blocks: Any, stop_reason: Any) -> dict:
    message: dict = {"role": "assistant", "parts": [_part(block) for block in blocks]}
    if stop_reason:
        message["finish_reason"] = str(stop_reason)
    return message


def input_messages(body: dict) -> tuple[list, Any]:
    """The prompt of a request body as (messages, system instructions); opt-in capture only."""
    messages = [
        {"role": m.get("role"), "parts": _parts(m.get("content"))} if isinstance(m, dict) else m
        for m in body.get("messages") or ()
    ]
    system = body.get("system")
    return messages, (_parts(system) if system else None)


def _parts(content: Any) -> list:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, (list, tuple)):
        return [_part(block) for block in content]
    return [] if content is None else [content]


def _field(value: Any, name: str) -> Any:
    """A field of an SDK model or of decoded JSON; None when absent."""
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _part(block: Any) -> Any:
    """One content block in the conventions' message-part shape; unknown blocks as they are."""
    kind = _field(block, "type")
    if kind == "text":
        return {"type": "text", "content": _field(block, "text")}
    if kind == "thinking":
        return {"type": "reasoning", "content": _field(block, "thinking")}
    if kind in ("tool_use", "server_tool_use"):
        return {"type": "tool_call", "id": _field(block, "id"), "name": _field(block, "name"),
                "arguments": _field(block, "input")}
    if kind == "tool_result":
        return {"type": "tool_call_response", "id": _field(block, "tool_use_id"),
                "response": _field(block, "content")}
    return block
