"""Read Bedrock's Converse API (`converse`, `converse_stream`) into a `GenAICall`.

Converse reports usage the same way for every model: `inputTokens` leaves out the
prompt-cache tokens, which come apart as `cacheReadInputTokens` and
`cacheWriteInputTokens` (`totalTokens` is the sum of all four), so the conventions'
input is their sum (`Usage.from_separate_cache`).
"""
from __future__ import annotations

from typing import Any

from .._genai import GenAICall, Usage
from .._genai import attributes as attr

REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"

_INFERENCE_FIELDS = (
    ("maxTokens", attr.REQUEST_MAX_TOKENS),
    ("temperature", attr.REQUEST_TEMPERATURE),
    ("topP", attr.REQUEST_TOP_P),
)


def add_request_attributes(attributes: dict, params: dict) -> None:
    config = params.get("inferenceConfig") or {}
    for field, name in _INFERENCE_FIELDS:
        value = config.get(field)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[name] = value
    stop = config.get("stopSequences")
    if stop:
        attributes[REQUEST_STOP_SEQUENCES] = [str(s) for s in stop]


def usage_from(usage: dict) -> Usage:
    return Usage.from_separate_cache(
        input_tokens=usage.get("inputTokens"),
        output_tokens=usage.get("outputTokens"),
        cache_read_tokens=usage.get("cacheReadInputTokens"),
        cache_write_tokens=usage.get("cacheWriteInputTokens"),
    )


def read_response(call: GenAICall, result: dict) -> None:
    reason = result.get("stopReason")
    if reason:
        call.finish_reasons = (str(reason),)
    usage = result.get("usage")
    if isinstance(usage, dict):
        call.usage = usage_from(usage)
    if call.capture_content:
        message = (result.get("output") or {}).get("message") or {}
        call.capture_output([_message(message, reason)])


class StreamReader:
    """`on_chunk` for ConverseStream events (`{"messageStart": {...}}`, ..., `{"metadata": {...}}`)."""

    __slots__ = ("texts",)

    def __init__(self, capture_content: bool) -> None:
        self.texts: list[str] | None = [] if capture_content else None

    def __call__(self, call: GenAICall, event: dict) -> bool:
        if "contentBlockDelta" in event:  # by far the most frequent event: keep it cheap
            if self.texts is not None:
                text = (event["contentBlockDelta"].get("delta") or {}).get("text")
                if text:
                    self.texts.append(text)
        elif "messageStop" in event:
            reason = event["messageStop"].get("stopReason")
            if reason:
                call.finish_reasons = (str(reason),)
            if self.texts is not None:
                call.capture_output([_text_message("".join(self.texts), reason)])
        elif "metadata" in event:
            usage = event["metadata"].get("usage")
            if isinstance(usage, dict):
                call.usage = usage_from(usage)
        return False


def input_messages(params: dict) -> list:
    return [_message(m, None) for m in params.get("messages") or ()]


def _message(message: dict, finish_reason: Any) -> dict:
    parts = []
    for block in message.get("content") or ():
        if "text" in block:
            parts.append({"type": "text", "content": block["text"]})
        elif "toolUse" in block:
            use = block["toolUse"]
            parts.append({"type": "tool_call", "id": use.get("toolUseId"), "name": use.get("name"),
                          "arguments": use.get("input")})
        elif "reasoningContent" in block:
            parts.append({"type": "reasoning",
                          "content": ((block["reasoningContent"].get("reasoningText") or {}).get("text"))})
        else:
            parts.append(block)
    result: dict = {"role": message.get("role") or "assistant", "parts": parts}
    if finish_reason:
        result["finish_reason"] = str(finish_reason)
    return result


def _text_message(text: str, finish_reason: Any) -> dict:
    return _message({"role": "assistant", "content": [{"text": text}]}, finish_reason)
