"""Token usage in the GenAI conventions' semantics.

`Usage.input_tokens` includes cache read and cache write tokens and
`Usage.output_tokens` includes reasoning tokens, whatever the provider's own
accounting. OpenAI already counts that way (`Usage(...)` directly); Anthropic
reports cache tokens beside its input, so use `Usage.from_separate_cache(...)`.

A count the provider did not report stays None: nothing is ever estimated.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import attributes as attr


@dataclass(slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None

    @classmethod
    def from_separate_cache(
        cls,
        *,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> "Usage":
        """For providers (Anthropic) whose input count leaves out cached tokens."""
        total = None
        for part in (input_tokens, cache_read_tokens, cache_write_tokens):
            if part is not None:
                total = part if total is None else total + part
        return cls(
            input_tokens=total,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            reasoning_tokens=reasoning_tokens,
        )

    def add_attributes(self, into: dict) -> None:
        """Put the reported counts into a span attribute dict.

        Input and output are set whenever reported, 0 included. The cache and
        reasoning parts are set only when non-zero: most calls have none, an
        absent part reads as 0, and every attribute costs the app time."""
        if self.input_tokens is not None:
            into[attr.USAGE_INPUT_TOKENS] = self.input_tokens
        if self.output_tokens is not None:
            into[attr.USAGE_OUTPUT_TOKENS] = self.output_tokens
        if self.cache_read_tokens:
            into[attr.USAGE_CACHE_READ_INPUT_TOKENS] = self.cache_read_tokens
        if self.cache_write_tokens:
            into[attr.USAGE_CACHE_WRITE_INPUT_TOKENS] = self.cache_write_tokens
        if self.reasoning_tokens:
            into[attr.USAGE_REASONING_OUTPUT_TOKENS] = self.reasoning_tokens
