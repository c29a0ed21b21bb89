"""Read a streamed Messages call's server-sent events into its `GenAICall`.

A `MessageStreamReader` is the `on_chunk` of the `_genai` stream proxies, which
end the span on every way a stream can end. Anthropic splits usage over two events:

- `message_start` carries the id, the model and the input side of usage
  (`input_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`) plus
  a placeholder output count, which is ignored;
- `message_delta` carries the stop reason and the cumulative `output_tokens`
  (and, on newer API versions, cumulative input and cache counts, which win).

A stream that ends before `message_delta` (early break, error, dropped) records
the input tokens it was billed for and no output count: nothing is guessed.
"""
from __future__ import annotations

from typing import Any

from .._genai import GenAICall, Usage
from .readers import RESPONSE_SERVICE_TIER, output_message


class MessageStreamReader:
    """The `on_chunk` of one streamed call: keeps the usage seen so far on the call."""

    __slots__ = ("input_tokens", "cache_read", "cache_write", "output_tokens", "thinking_tokens", "_blocks")

    def __init__(self, capture_content: bool = False) -> None:
        self.input_tokens: int | None = None
        self.cache_read: int | None = None
        self.cache_write: int | None = None
        self.output_tokens: int | None = None
        self.thinking_tokens: int | None = None
        # Content blocks being assembled, only when the user opted in to capture.
        self._blocks: list[dict] | None = [] if capture_content else None

    def __call__(self, call: GenAICall, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "content_block_delta":  # by far the most frequent event: keep it cheap
            if self._blocks is not None:
                self._add_delta(event)
        elif kind == "message_start":
            self._read_start(call, event.message)
        elif kind == "message_delta":
            self._read_delta(call, event)
        elif self._blocks is not None:
            if kind == "content_block_start":
                self._blocks.append(_block_start(event.content_block))
            elif kind == "message_stop":
                reason = call.finish_reasons[0] if call.finish_reasons else None
                call.capture_output([output_message(self._assembled_blocks(), reason)])
        return False  # every event goes on to the app

    def _read_start(self, call: GenAICall, message: Any) -> None:
        call.response_id = getattr(message, "id", None)
        call.response_model = getattr(message, "model", None)
        usage = getattr(message, "usage", None)
        if usage is None:
            return
        self.input_tokens = getattr(usage, "input_tokens", None)
        self.cache_read = getattr(usage, "cache_read_input_tokens", None)
        self.cache_write = getattr(usage, "cache_creation_input_tokens", None)
        call.set_attribute(RESPONSE_SERVICE_TIER, getattr(usage, "service_tier", None))
        call.usage = self._usage()

    def _read_delta(self, call: GenAICall, event: Any) -> None:
        stop_reason = getattr(getattr(event, "delta", None), "stop_reason", None)
        if stop_reason:
            call.finish_reasons = (str(stop_reason),)
        usage = getattr(event, "usage", None)
        if usage is None:
            return
        # Counts on message_delta are cumulative totals: they replace, never add.
        self.output_tokens = getattr(usage, "output_tokens", None)
        input_tokens = getattr(usage, "input_tokens", None)
        if input_tokens is not None:
            self.input_tokens = input_tokens
        cache_read = getattr(usage, "cache_read_input_tokens", None)
        if cache_read is not None:
            self.cache_read = cache_read
        cache_write = getattr(usage, "cache_creation_input_tokens", None)
        if cache_write is not None:
            self.cache_write = cache_write
        thinking = getattr(getattr(usage, "output_tokens_details", None), "thinking_tokens", None)
        if thinking is not None:
            self.thinking_tokens = thinking
        call.usage = self._usage()

    def _usage(self) -> Usage:
        return Usage.from_separate_cache(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read,
            cache_write_tokens=self.cache_write,
            reasoning_tokens=self.thinking_tokens,
        )

    def _add_delta(self, event: Any) -> None:
        if not self._blocks:
            return
        delta = getattr(event, "delta", None)
        for field in ("text", "thinking", "partial_json"):
            piece = getattr(delta, field, None)
            if isinstance(piece, str):
                self._blocks[-1]["pieces"].append(piece)
                return

    def _assembled_blocks(self) -> list[dict]:
        """The streamed content blocks, shaped as in a whole `Message`."""
        blocks = []
        for block in self._blocks or ():
            joined = "".join(block["pieces"])
            kind = block["type"]
            field = {"thinking": "thinking", "tool_use": "input", "server_tool_use": "input"}.get(kind, "text")
            blocks.append({"type": kind, "id": block["id"], "name": block["name"], field: joined})
        return blocks


def _block_start(block: Any) -> dict:
    return {"type": getattr(block, "type", None), "id": getattr(block, "id", None),
            "name": getattr(block, "name", None), "pieces": []}
