"""Trace-level drilldown: what one trace's LLM calls cost, call by call."""
from __future__ import annotations

import re
from decimal import Decimal

from .records import TraceCall, TraceCost
from .runner import Runner, as_decimal, as_moment, fetch
from .sql_files import load_sql

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def trace_cost(run: Runner, trace_id: str) -> TraceCost | None:
    """The trace's total and its LLM calls, or None when the store has no span of it
    (a trace whose spans include no LLM call has a total of 0 and no calls)."""
    trace_id = checked_trace_id(trace_id)
    parameters = {"trace_id": trace_id}
    span_count = int(fetch(run, load_sql("trace_span_count"), parameters)[0]["span_count"])
    totals = fetch(run, load_sql("trace_totals"), parameters)
    if not totals:
        return _without_llm_calls(trace_id, span_count) if span_count else None
    row = totals[0]
    return TraceCost(
        trace_id=trace_id,
        cost=as_decimal(row["cost"]),
        llm_calls=int(row["llm_calls"]),
        unpriced_calls=int(row["unpriced_calls"]),
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        total_tokens=int(row["total_tokens"]),
        span_count=span_count,
        first_call=as_moment(row["first_call"]),
        last_call=as_moment(row["last_call"]),
        apps=tuple(row["apps"]),
        models=tuple(row["models"]),
        calls=tuple(_call(call) for call in fetch(run, load_sql("trace_calls"), parameters)),
    )


def _without_llm_calls(trace_id: str, span_count: int) -> TraceCost:
    return TraceCost(trace_id=trace_id, cost=Decimal(0), llm_calls=0, unpriced_calls=0, input_tokens=0,
                     output_tokens=0, total_tokens=0, span_count=span_count, first_call=None, last_call=None,
                     apps=(), models=())


def _call(row: dict) -> TraceCall:
    return TraceCall(
        timestamp=as_moment(row["timestamp"]),
        span_id=row["span_id"],
        parent_span_id=row["parent_span_id"],
        app=row["app"],
        provider=row["provider"],
        operation=row["operation"],
        model=row["model"],
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cache_read_tokens=int(row["cache_read_tokens"]),
        cache_write_tokens=int(row["cache_write_tokens"]),
        cost=as_decimal(row["cost"]),
        status=row["status"],
        duration_ns=int(row["duration_ns"]),
    )


def checked_trace_id(trace_id: str) -> str:
    """The id in lower case, or a ValueError for text that is not 32 hex digits."""
    normalized = trace_id.strip().lower() if isinstance(trace_id, str) else ""
    if not _TRACE_ID.match(normalized):
        raise ValueError(f"not a trace id: {trace_id!r} (expected 32 hexadecimal digits)")
    return normalized
