"""Read what OpenAI answered into a `GenAICall`: id, model, finish reasons, usage.

One reader per API for whole responses (`read_chat_completion`, `read_response`,
`read_completion`, `read_embeddings`) and one per API for streams (classes whose
instances are the proxies' `on_chunk`). They read the SDK's pydantic objects by
attribute, with defaults, because OpenAI-compatible servers leave fields out.

OpenAI's usage already follows the GenAI conventions: `prompt_tokens` /
`input_tokens` include cached (and cache-written) tokens, and
`completion_tokens` / `output_tokens` include reasoning tokens.
"""
from __future__ import annotations

from typing import Any

from .._genai import GenAICall, Usage
from .._genai import attributes as attr


def usage_from_completion_usage(usage: Any) -> Usage:
    """Chat Completions and legacy Completions usage (`CompletionUsage`)."""
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    cache_read = cache_write = reasoning = None
    if prompt_details is not None:
        cache_read = getattr(prompt_details, "cached_tokens", None)
        cache_write = getattr(prompt_details, "cache_write_tokens", None)
    if cache_read is None:
        # DeepSeek reports its cache hits beside the standard fields.
        cache_read = _undeclared(usage, "prompt_cache_hit_tokens")
    if completion_details is not None:
        reasoning = getattr(completion_details, "reasoning_tokens", None)
    return Usage(getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None),
                 cache_read, cache_write, reasoning)


def usage_from_response_usage(usage: Any) -> Usage:
    """Responses API usage (`ResponseUsage`)."""
    input_details = getattr(usage, "input_tokens_details", None)
    output_details = getattr(usage, "output_tokens_details", None)
    return Usage(
        input_tokens=getattr(usage, "input_tokens", None),
        output_tokens=getattr(usage, "output_tokens", None),
        cache_read_tokens=getattr(input_details, "cached_tokens", None),
        cache_write_tokens=getattr(input_details, "cache_write_tokens", None),
        reasoning_tokens=getattr(output_details, "reasoning_tokens", None),
    )


def _undeclared(model: Any, name: str) -> Any:
    """A field the SDK's model does not declare, kept by pydantic among its extras: read
    there, as a failed attribute lookup on a pydantic model is slow."""
    extra = getattr(model, "__pydantic_extra__", None)  # pydantic 2 (what `model_extra` returns, without a call)
    if extra is None:
        extra = getattr(model, "__dict__", None)  # pydantic 1 keeps extras as attributes
    return extra.get(name) if isinstance(extra, dict) else None


def _read_service_tier(call: GenAICall, result: Any) -> None:
    tier = getattr(result, "service_tier", None)
    if tier:
        call.set_attribute(attr.OPENAI_RESPONSE_SERVICE_TIER, str(tier))


def _read_choices_and_usage(call: GenAICall, completion: Any) -> Any:
    """What chat and legacy completions share: id, model, finish reasons, usage. Returns the choices."""
    call.response_id = getattr(completion, "id", None)
    call.response_model = getattr(completion, "model", None)
    choices = getattr(completion, "choices", None) or ()
    if len(choices) == 1:  # the usual case, without building lists
        reason = getattr(choices[0], "finish_reason", None)
        if reason:
            call.finish_reasons = (str(reason),)
    elif choices:
        reasons = tuple(str(r) for r in (getattr(c, "finish_reason", None) for c in choices) if r)
        if reasons:
            call.finish_reasons = reasons
    usage = getattr(completion, "usage", None)
    if usage is not None:
        call.usage = usage_from_completion_usage(usage)
    return choices


def read_chat_completion(call: GenAICall, completion: Any) -> None:
    choices = _read_choices_and_usage(call, completion)
    _read_service_tier(call, completion)
    if call.capture_content:
        call.capture_output([_chat_choice_message(c) for c in choices])


def read_completion(call: GenAICall, completion: Any) -> None:
    """Legacy Completions: the same shape as chat, with `choices[].text`."""
    choices = _read_choices_and_usage(call, completion)
    if call.capture_content:
        call.capture_output([_text_message(getattr(c, "text", None), getattr(c, "finish_reason", None))
                             for c in choices])


def read_response(call: GenAICall, response: Any) -> None:
    """Responses API: a `Response`, whole or from a stream's final event."""
    call.response_id = getattr(response, "id", None)
    call.response_model = getattr(response, "model", None)
    status = getattr(response, "status", None)
    reason = getattr(getattr(response, "incomplete_details", None), "reason", None)
    if reason or status:
        call.finish_reasons = (str(reason or status),)
    usage = getattr(response, "usage", None)
    if usage is not None:
        call.usage = usage_from_response_usage(usage)
    _read_service_tier(call, response)
    error = getattr(response, "error", None)
    if status == "failed" and error is not None:
        call.record_error(str(getattr(error, "code", None) or "response_failed"), getattr(error, "message", None))
    if call.capture_content:
        text = getattr(response, "output_text", None)
        call.capture_output([_text_message(text, reason or status)])


def read_embeddings(call: GenAICall, result: Any) -> None:
    call.response_model = getattr(result, "model", None)
    usage = getattr(result, "usage", None)
    if usage is not None:
        # Embeddings have input tokens only.
        call.usage = Usage(input_tokens=getattr(usage, "prompt_tokens", None))


class ChatStreamReader:
    """`on_chunk` for streamed chat completions (`ChatCompletionChunk`s)."""

    __slots__ = ("hide_usage_chunk", "capture", "reasons", "texts")

    def __init__(self, hide_usage_chunk: bool, capture: bool):
        # True when the instrumentation asked for the usage chunk: the app did
        # not, so it must not see it (its `choices` list is empty).
        self.hide_usage_chunk = hide_usage_chunk
        self.capture = capture  # collect the streamed text (opt-in content capture)
        self.reasons: dict[int, str] = {}
        self.texts: dict[int, list[str]] = {}

    def __call__(self, call: GenAICall, chunk: Any) -> bool:
        if call.response_id is None:
            call.response_id = getattr(chunk, "id", None)
            call.response_model = getattr(chunk, "model", None)
            _read_service_tier(call, chunk)
        choices = getattr(chunk, "choices", None)
        if choices:
            for choice in choices:
                if self.capture:
                    self._collect_text(choice.index, self._text_of(choice))
                if choice.finish_reason:
                    self._finished(call, choice.index, choice.finish_reason)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            call.usage = usage_from_completion_usage(usage)
            return self.hide_usage_chunk and not choices
        return False

    @staticmethod
    def _text_of(choice: Any) -> str | None:
        return getattr(choice.delta, "content", None)

    def _finished(self, call: GenAICall, index: int, reason: Any) -> None:
        reasons = self.reasons
        reasons[index] = str(reason)
        if len(reasons) == 1:  # the usual case: one choice, no sorting
            call.finish_reasons = (reasons[index],)
        else:
            call.finish_reasons = tuple(reasons[i] for i in sorted(reasons))
        if self.capture:
            call.capture_output([_text_message("".join(self.texts.get(i, ())), self.reasons.get(i))
                                 for i in sorted(set(self.texts) | set(self.reasons))])

    def _collect_text(self, index: int, text: str | None) -> None:
        if text:
            self.texts.setdefault(index, []).append(text)


class CompletionStreamReader(ChatStreamReader):
    """`on_chunk` for streamed legacy completions: choices carry `text`, not `delta`."""

    __slots__ = ()

    @staticmethod
    def _text_of(choice: Any) -> str | None:
        return getattr(choice, "text", None)


_RESPONSE_FINAL_EVENTS = {"response.completed", "response.incomplete", "response.failed"}


def read_response_event(call: GenAICall, event: Any) -> bool:
    """`on_chunk` for streamed Responses API events; usage comes with the final event."""
    kind = getattr(event, "type", None)
    if kind in _RESPONSE_FINAL_EVENTS:
        read_response(call, event.response)
    elif kind == "response.created" and call.response_id is None:
        call.response_id = getattr(event.response, "id", None)
        call.response_model = getattr(event.response, "model", None)
    elif kind == "error":
        call.record_error(str(getattr(event, "code", None) or "error"), getattr(event, "message", None))
    return False


def _text_message(text: Any, finish_reason: Any) -> dict:
    message: dict = {"role": "assistant", "parts": [{"type": "text", "content": text or ""}]}
    if finish_reason:
        message["finish_reason"] = str(finish_reason)
    return message


def _chat_choice_message(choice: Any) -> dict:
    message = getattr(choice, "message", None)
    parts: list = []
    content = getattr(message, "content", None)
    if content:
        parts.append({"type": "text", "content": content})
    for tool_call in getattr(message, "tool_calls", None) or ():
        function = getattr(tool_call, "function", None)
        parts.append({
            "type": "tool_call",
            "id": getattr(tool_call, "id", None),
            "name": getattr(function, "name", None),
            "arguments": getattr(function, "arguments", None),
        })
    result = {"role": getattr(message, "role", None) or "assistant", "parts": parts}
    if getattr(choice, "finish_reason", None):
        result["finish_reason"] = str(choice.finish_reason)
    return result


def input_messages(path: str, body: dict) -> tuple[list | None, Any]:
    """The prompt of a request body, as (messages, system instructions); opt-in capture only."""
    if path == "/chat/completions":
        messages = [
            {"role": m.get("role"), "parts": _parts(m.get("content"))} if isinstance(m, dict) else m
            for m in body.get("messages") or ()
        ]
        return messages, None
    if path == "/responses":
        given = body.get("input")
        if isinstance(given, str):
            return [{"role": "user", "parts": _parts(given)}], body.get("instructions")
        return given, body.get("instructions")
    if path == "/completions":
        return [{"role": "user", "parts": _parts(body.get("prompt"))}], None
    return None, None


def _parts(content: Any) -> list:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, list):
        return content
    return [] if content is None else [content]
