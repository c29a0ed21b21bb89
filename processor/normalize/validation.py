"""The checks a span must pass to be stored at all.

A span with broken ids cannot be joined into its trace, and one with a wrong clock
lands in a partition where rollups and TTLs treat it wrongly (a row stamped 1970 is
dropped at once while a view has already counted it), so such spans are rejected.
Token counts are checked where they are read (`usage.py`).
"""
from __future__ import annotations

# 2000-01-01T00:00:00Z: nothing older is a real span.
EARLIEST_START_NS = 946_684_800 * 1_000_000_000
# Clocks drift; a day ahead of ours is already more than any real skew.
MAX_AHEAD_NS = 86_400 * 1_000_000_000

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


def span_problem(
    trace_id: bytes, span_id: bytes, parent_span_id: bytes, start_ns: int, end_ns: int, now_ns: int
) -> str | None:
    """Why a span with these ids and times must be rejected, or None when it may be stored."""
    problem = _id_problem(trace_id, "trace id", 16, _ZERO_TRACE_ID) or _id_problem(
        span_id, "span id", 8, _ZERO_SPAN_ID
    )
    if problem:
        return problem
    if parent_span_id and len(parent_span_id) != 8:
        return f"parent span id must be 8 bytes, got {len(parent_span_id)}"
    latest = now_ns + MAX_AHEAD_NS
    if start_ns < EARLIEST_START_NS:
        return "start time is before 2000-01-01" if start_ns else "start time is missing"
    if start_ns > latest:
        return "start time is more than a day in the future"
    if end_ns < start_ns:
        return "end time is before start time"
    if end_ns > latest:
        return "end time is more than a day in the future"
    return None
