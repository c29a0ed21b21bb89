"""Token counts of one LLM span, in the GenAI conventions' semantics.

The result always counts cache read and cache write tokens inside input, and
reasoning tokens inside output. What the sources send:

- OpenTelemetry GenAI conventions (and the official instrumentations): input
  includes cached tokens, output includes reasoning. Taken as sent.
- OpenLLMetry: its Anthropic instrumentation adds cache read and cache creation
  tokens into the prompt/input count it reports; OpenAI's prompt_tokens already
  include cached tokens. Taken as sent.
- OpenInference: `llm.token_count.prompt` includes cache read and write (its
  Anthropic instrumentation sums them). Taken as sent.
- OpenLIT: its Anthropic instrumentation reports Anthropic's own `input_tokens`,
  which EXCLUDE cache tokens, next to separate cache counts. For OpenLIT spans of
  provider anthropic the cache tokens are added to input.

Other emitters pass Anthropic's raw counts through next to the cache counts (some
OpenInference instrumentations, hand-written spans). Whatever the source, counts
that cannot be "included" are read as excluded: cache read + write larger than
input means input excludes the cache, and reasoning larger than output means output
excludes reasoning (Gemini reports thoughts apart); the parts are then added. A
count that is merely smaller is taken as included, as the conventions say.

Older OpenInference and OpenLLMetry releases reported Anthropic's raw input count
with no cache counts at all: nothing tells the cache apart then, and input is what
was reported.
"""
from __future__ import annotations

from dataclasses import dataclass

from .conventions import (
    CACHE_READ_TOKEN_KEYS,
    CACHE_WRITE_TOKEN_KEYS,
    INPUT_TOKEN_KEYS,
    OUTPUT_TOKEN_KEYS,
    REASONING_TOKEN_KEYS,
)
from .validation import MAX_TOKENS_PER_CALL


class InvalidSpan(ValueError):
    """A span that must be rejected; the message says why."""


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    reported: bool = False  # False when the span carried no token count at all


def parse_token_count(key: str, text: str) -> int:
    """A token count from its attribute text; InvalidSpan when it is not one."""
    if text.isascii() and text.isdigit():
        count = int(text)
        if count > MAX_TOKENS_PER_CALL:
            raise InvalidSpan(f"{key} is {count}, more than {MAX_TOKENS_PER_CALL:,} tokens in one call")
        return count
    if text[:1] == "-" and text[1:].isascii() and text[1:].replace(".", "", 1).isdigit():
        raise InvalidSpan(f"{key} is negative ({text})")
    raise InvalidSpan(f"{key} is not a whole number of tokens ({text!r})")


def _first_count(attributes: dict[str, str], keys: tuple[str, ...]) -> int | None:
    get = attributes.get
    for key in keys:
        text = get(key)
        if text is not None:
            return parse_token_count(key, text)
    return None


_BREAKDOWN_KEY_SETS = tuple(frozenset(keys) for keys in (CACHE_READ_TOKEN_KEYS, CACHE_WRITE_TOKEN_KEYS,
                                                          REASONING_TOKEN_KEYS))


def has_breakdown(attributes: dict[str, str]) -> bool:
    """Whether the span states all of its cache read, cache write and reasoning counts."""
    keys = attributes.keys()
    for names in _BREAKDOWN_KEY_SETS:  # set operations: this runs for every LLM span
        if keys.isdisjoint(names):
            return False
    return True


def read_usage(attributes: dict[str, str], *, input_excludes_cache: bool = False,
               embedded: dict[str, int] | None = None) -> Usage:
    """The span's token counts, normalized; InvalidSpan for a bad count.

    `embedded` holds the breakdown of a usage object the span carries whole (see
    payloads.py): it fills the cache and reasoning counts the attributes do not state."""
    input_tokens = _first_count(attributes, INPUT_TOKEN_KEYS)
    output_tokens = _first_count(attributes, OUTPUT_TOKEN_KEYS)
    cache_read = _first_count(attributes, CACHE_READ_TOKEN_KEYS)
    cache_write = _first_count(attributes, CACHE_WRITE_TOKEN_KEYS)
    reasoning = _first_count(attributes, REASONING_TOKEN_KEYS)
    if embedded and (input_tokens is not None or output_tokens is not None):
        cache_read = embedded.get("cache_read") if cache_read is None else cache_read
        cache_write = embedded.get("cache_write") if cache_write is None else cache_write
        reasoning = embedded.get("reasoning") if reasoning is None else reasoning
    if (input_tokens is None and output_tokens is None and cache_read is None and cache_write is None
            and reasoning is None):
        return Usage()  # not reported: never estimated

    input_tokens = input_tokens or 0
    output_tokens = output_tokens or 0
    cache_read = cache_read or 0
    cache_write = cache_write or 0
    reasoning = reasoning or 0
    cached = cache_read + cache_write
    if input_excludes_cache or cached > input_tokens:
        input_tokens += cached
    if reasoning > output_tokens:
        output_tokens += reasoning
    return Usage(input_tokens, output_tokens, cache_read, cache_write, reasoning, True)
