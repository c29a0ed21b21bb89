"""Read a streamed Mistral chat (`CompletionEvent`s, each holding a `CompletionChunk`).

The first chunk names the id and the model; the last carries the finish reason and,
as Mistral sends it, the usage of the whole call. A stream left before its last chunk
records no usage: nothing is guessed.
"""
from __future__ import annotations

from typing import Any

from .._genai import GenAICall
from .readers import _text, read_usage, text_message


class ChatStreamReader:
    """The `on_chunk` of one streamed chat."""

    __slots__ = ("reasons", "texts")

    def __init__(self, capture_content: bool) -> None:
        self.reasons: dict[int, str] = {}
        self.texts: dict[int, list[str]] | None = {} if capture_content else None

    def __call__(self, call: GenAICall, event: Any) -> bool:
        chunk = getattr(event, "data", event)
        # Fields the SDK's CompletionChunk declares: plain attributes, read once per chunk.
        if call.response_id is None:
            call.response_id = getattr(chunk, "id", None)
            call.response_model = getattr(chunk, "model", None)
        for choice in getattr(chunk, "choices", None) or ():
            if self.texts is not None:
                text = _text(getattr(choice.delta, "content", None))
                if text:
                    self.texts.setdefault(choice.index, []).append(text)
            if choice.finish_reason:
                reasons = self.reasons
                reasons[choice.index] = str(choice.finish_reason)
                if len(reasons) == 1:  # the usual case: one choice, no sorting
                    call.finish_reasons = (reasons[choice.index],)
                else:
                    call.finish_reasons = tuple(reasons[i] for i in sorted(reasons))
                if self.texts is not None:
                    call.capture_output([text_message("".join(self.texts.get(i, ())), self.reasons.get(i))
                                         for i in sorted(set(self.texts) | set(self.reasons))])
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            read_usage(call, usage)
        return False
