"""Telling wrapper spans from the LLM calls they wrap.

A framework span (LangChain's `ChatOpenAI`, LlamaIndex's LLM span, ...) often has a
direct child span from the provider SDK's instrumentation that reports the same
usage. Both look like LLM calls; only the child is one. Children end first, so a
child usually arrives in the same export request as its wrapper or an earlier one:
the filter remembers recent LLM calls by (trace id, parent span id) across requests.

An LLM span is a wrapper when a remembered direct child reported the same input and
output token counts, or when the span itself reported no usage and a direct child
did (a wrapper in streaming mode often has none).

Not caught: a wrapper that arrives before its child (the wrapper was already counted
when the child comes), and a child that reported no usage under a wrapper that did
(both are counted).
"""
from __future__ import annotations

import threading
from collections.abc import Sequence

from llmledger.processor.record import LlmCall

# Marks "some direct child reported usage" in the memory.
_ANY_USAGE = -1


class WrapperFilter:
    """A bounded memory of recent LLM calls, shared across export requests (thread-safe).

    Each remembered call costs one or two small ints (hashes of trace id, parent span
    id and token counts) and its span id; past `max_entries` the oldest are forgotten.
    """

    def __init__(self, max_entries: int = 200_000):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._seen: dict[int, str] = {}  # key -> the span id of the child it was made from
        self._order: list[int] = []  # a ring of what `_seen` holds, oldest at `_next`
        self._next = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def _add(self, key: int, child_span_id: str) -> None:
        if key in self._seen:
            return
        if len(self._order) < self.max_entries:
            self._order.append(key)
        else:
            self._seen.pop(self._order[self._next], None)
            self._order[self._next] = key
            self._next = (self._next + 1) % self.max_entries
        self._seen[key] = child_span_id

    def mark_wrappers(self, calls: Sequence[LlmCall]) -> list[str]:
        """Remember `calls`, then tell for each the span id of the remembered direct child
        it wraps ("" when it wraps none).

        Remembering the whole batch first makes the order of spans in a request irrelevant.
        """
        with self._lock:
            for call in calls:
                if call.parent_span_id and call.usage_reported:
                    self._add(hash((call.trace_id, call.parent_span_id, call.input_tokens, call.output_tokens)),
                              call.span_id)
                    self._add(hash((call.trace_id, call.parent_span_id, _ANY_USAGE, _ANY_USAGE)), call.span_id)
            flags = []
            for call in calls:
                if call.usage_reported:
                    key = hash((call.trace_id, call.span_id, call.input_tokens, call.output_tokens))
                else:
                    key = hash((call.trace_id, call.span_id, _ANY_USAGE, _ANY_USAGE))
                flags.append(self._seen.get(key, ""))
            return flags
