"""The checks a span must pass to be stored at all, and the bounds they enforce.

Everything that could make an insert fail, or a sum wrap, is checked here before the
request is acknowledged: a span that fails is rejected (OTLP partial success, with the
reason) and its siblings are stored. Two checks, at the two points where the values exist:

- `span_problem(span, now_ns)`: the span as received. Broken ids cannot be joined into
  their trace; a wrong clock lands a row where rollups and TTLs treat it wrongly (a row
  stamped 1970 is dropped at once while a view has already counted it); an event time past
  2262 does not fit `DateTime64(9)`.
- `call_problem(call)`: an LLM call's cost once priced, as `llm_spans` stores it.

Token counts are checked where they are parsed (`usage.py`), with the bound below.

Why no sum can overflow (every column that is summed, raw or in a rollup):
- Money is `Decimal(38, 12)`: |x| < 10^26. ClickHouse's `sum()` of it stays Decimal(38, 12)
  and wraps silently past that, and so do SummingMergeTree merges. Every stored cost is at
  most MAX_COST_USD = 10^6, so a sum of n of them is at most n x 10^6 and reaches 10^26 only
  past n = 10^20 calls: three million years at a million calls a second. Money derived per
  call (the cache savings: the input price per token times the cache-read tokens, less their
  cost) is at most 10^6 x 3 x 10^8 = 3 x 10^14 even at an absurd price of a million dollars
  a token, so its sums need 3 x 10^11 such calls.
- Tokens are `UInt64`: < 1.8 x 10^19. A stored count is at most 3 x MAX_TOKENS_PER_CALL
  (input includes cache read and cache write, each bounded), and a sum reaches 2^64 only
  past 1.8 x 10^19 tokens: 570 years at a billion tokens a second.
"""
from __future__ import annotations

from decimal import Decimal

from llmledger.processor.record import LlmCall

# 2000-01-01T00:00:00Z: nothing older is a real span.
EARLIEST_START_NS = 946_684_800 * 1_000_000_000
# Clocks drift; a day ahead of ours is already more than any real skew.
MAX_AHEAD_NS = 86_400 * 1_000_000_000
# DateTime64(9) is a signed 64-bit count of nanoseconds: it ends at 2262-04-11T23:47:16.854775807Z.
MAX_TIMESTAMP_NS = 2**63 - 1
# No single call uses this many tokens of one kind (the largest context windows are ~10M);
# a larger count is a broken emitter.
MAX_TOKENS_PER_CALL = 100_000_000
# No single LLM call costs a million dollars: 100M tokens at the dearest published rates
# (hundreds of dollars per 1M) is below a tenth of it. A larger cost is a broken emitter or
# a price-book typo, and would make sums of money unsafe (see above).
MAX_COST_USD = Decimal(1_000_000)

_ZERO = Decimal(0)
_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)


def _id_problem(raw: bytes, what: str, size: int, zero: bytes) -> str | None:
    if not raw:
        return f"{what} is missing"
    if len(raw) != size:
        return f"{what} must be {size} bytes, got {len(raw)}"
    if raw == zero:
        return f"{what} is all zeros"
    return None


def span_problem(span, now_ns: int) -> str | None:
    """Why this OTLP span must be rejected, or None when it may be stored."""
    problem = _id_problem(span.trace_id, "trace id", 16, _ZERO_TRACE_ID) or _id_problem(
        span.span_id, "span id", 8, _ZERO_SPAN_ID
    )
    if problem:
        return problem
    parent_span_id = span.parent_span_id
    if parent_span_id and len(parent_span_id) != 8:
        return f"parent span id must be 8 bytes, got {len(parent_span_id)}"
    start_ns = span.start_time_unix_nano
    end_ns = span.end_time_unix_nano
    latest = now_ns + MAX_AHEAD_NS
    if start_ns < EARLIEST_START_NS:
        return "start time is before 2000-01-01" if start_ns else "start time is missing"
    if start_ns > latest:
        return "start time is more than a day in the future"
    if end_ns < start_ns:
        return "end time is before start time"
    if end_ns > latest:
        return "end time is more than a day in the future"
    for event in span.events:
        if event.time_unix_nano > MAX_TIMESTAMP_NS:
            return f"event {event.name!r} has time {event.time_unix_nano}, after 2262-04-11 (the last time storable)"
    return None


def call_problem(call: LlmCall) -> str | None:
    """Why this priced LLM call cannot be stored, or None. Runs for every call, so it checks
    the amounts only: the cost and another tool's estimate of it lie within what one call
    can cost (the price book refuses negative prices); token counts are bounded where they
    are parsed."""
    billed = "billed cost" if call.price_source == "billed" else "cost"
    for what, amount in ((billed, call.cost), ("reported cost", call.reported_cost)):
        if amount is not None and not _ZERO <= amount <= MAX_COST_USD:
            return f"{what} {amount} USD is outside 0 to {MAX_COST_USD:,} USD, the most one call can cost"
    return None
