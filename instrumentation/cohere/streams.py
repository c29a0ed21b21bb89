"""Read a streamed Cohere v2 chat (`V2ChatStreamResponse` events).

`message-start` names the id; `message-end` carries the finish reason, the billed usage
of the whole call, and an error when the generation failed. A stream left before
`message-end` records no usage: nothing is guessed.
"""
from __future__ import annotations

from typing import Any

from .._genai import GenAICall
from .readers import text_message, usage_from


class ChatStreamReader:
    """The `on_chunk` of one streamed chat."""

    __slots__ = ("texts",)

    def __init__(self, capture_content: bool) -> None:
        self.texts: list[str] | None = [] if capture_content else None

    def __call__(self, call: GenAICall, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "content-delta":  # by far the most frequent event: keep it cheap
            if self.texts is not None:
                text = getattr(getattr(getattr(getattr(event, "delta", None), "message", None), "content", None),
                               "text", None)
                if text:
                    self.texts.append(text)
        elif kind == "message-start":
            call.response_id = getattr(event, "id", None)
        elif kind == "message-end":
            delta = getattr(event, "delta", None)
            reason = getattr(delta, "finish_reason", None)
            if reason:
                call.finish_reasons = (str(reason),)
            usage = getattr(delta, "usage", None)
            if usage is not None:
                call.usage = usage_from(usage)
            error = getattr(delta, "error", None)
            if error:
                call.record_error("generation_error", str(error))
            if self.texts is not None:
                call.capture_output([text_message("".join(self.texts), reason)])
        return False
