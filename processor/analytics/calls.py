"""Single LLM calls: the most expensive ones, and the calls of a trace in its span tree."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from .dimensions import filter_conditions
from .records import LlmCallRow, TraceSpan, TraceTree
from .runner import Runner, as_decimal, as_moment, fetch
from .sql_files import load_sql, with_filters
from .time_range import checked_range, range_parameters
from .traces import checked_trace_id

MOST_CALLS = 1000


def most_expensive_calls(run: Runner, start: datetime | date, end: datetime | date, limit: int = 50,
                         filters: dict | None = None) -> list[LlmCallRow]:
    """The `limit` (at most 1000) costliest calls in [start, end); unpriced calls last."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MOST_CALLS:
        raise ValueError(f"limit must be a whole number from 1 to {MOST_CALLS}, got {limit!r}")
    start, end = checked_range(start, end)
    _, conditions, parameters = filter_conditions(filters)
    parameters.update(range_parameters(start, end), limit=limit)
    cancel_rows = int(fetch(run, with_filters("cancel_rows", conditions), parameters)[0]["cancel_rows"])
    found = fetch(run, with_filters("expensive_call_candidates", conditions),
                  {**parameters, "candidates": limit + cancel_rows})
    if not found:
        return []
    parameters["trace_ids"] = [row["trace_id"] for row in found]
    return [call_row(row) for row in fetch(run, with_filters("expensive_calls", conditions), parameters)]


def trace_tree(run: Runner, trace_id: str, filters: dict | None = None) -> TraceTree | None:
    """The trace's spans as a tree, each LLM span with its priced call; None when no span
    of it is stored. With `filters` (a viewer limited to a tenant), None also when none of
    the trace's LLM calls passes them."""
    trace_id = checked_trace_id(trace_id)
    parameters = {"trace_id": trace_id}
    calls = {row["span_id"]: call_row(row) for row in fetch(run, load_sql("trace_llm_calls"), parameters)}
    if filters and not _any_call_passes(run, trace_id, filters):
        return None
    spans = fetch(run, load_sql("trace_spans"), parameters)
    if not spans and not calls:
        return None
    nodes = _tree([_span(row) for row in spans], calls)
    priced = [c for c in calls.values() if c.cost is not None]
    starts = [n.start for n in nodes]
    ends = [n.start + timedelta(microseconds=n.duration_ns // 1000) for n in nodes]
    return TraceTree(
        trace_id=trace_id, spans=tuple(nodes), cost=sum((c.cost for c in priced), as_decimal(0)),
        llm_calls=len(calls), unpriced_calls=sum(c.unpriced for c in calls.values()),
        input_tokens=sum(c.input_tokens for c in calls.values()),
        output_tokens=sum(c.output_tokens for c in calls.values()),
        start=min(starts) if starts else None,
        duration_ns=int((max(ends) - min(starts)).total_seconds() * 1e9) if starts else 0)


def call_row(row: dict) -> LlmCallRow:
    return LlmCallRow(
        timestamp=as_moment(row["timestamp"]), trace_id=row["trace_id"], span_id=row["span_id"], app=row["app"],
        environment=row["environment"], provider=row["provider"], operation=row["operation"], model=row["model"],
        user_id=row["user_id"], team=row["team"], feature=row["feature"], tenant=row["tenant"],
        input_tokens=int(row["input_tokens"]), output_tokens=int(row["output_tokens"]),
        cache_read_tokens=int(row["cache_read_tokens"]), cache_write_tokens=int(row["cache_write_tokens"]),
        reasoning_tokens=int(row["reasoning_tokens"]), cost=as_decimal(row["cost"]), unpriced=bool(row["unpriced"]),
        cost_details={name: as_decimal(value) for name, value in (row["cost_details"] or {}).items()},
        price_source=row["price_source"], duration_ns=int(row["duration_ns"]), status=row["status"])


def _any_call_passes(run: Runner, trace_id: str, filters: dict) -> bool:
    _, conditions, parameters = filter_conditions(filters)
    parameters["trace_id"] = trace_id
    return int(fetch(run, with_filters("trace_call_count", conditions), parameters)[0]["calls"]) > 0


def _span(row: dict) -> dict:
    return {"span_id": row["span_id"], "parent_span_id": row["parent_span_id"], "name": row["name"],
            "kind": row["kind"], "service": row["service"], "start": as_moment(row["start"]),
            "duration_ns": int(row["duration_ns"]), "status": row["status"],
            "status_message": row["status_message"]}


def _tree(spans: list[dict], calls: dict[str, LlmCallRow]) -> list[TraceSpan]:
    """Depth-first, siblings by start. A span whose parent is not stored is a root; an LLM
    call whose span is missing from otel_traces still shows, as a root of its own."""
    known = {span["span_id"] for span in spans}
    for span_id, call in calls.items():
        if span_id not in known:
            spans.append({"span_id": span_id, "parent_span_id": "", "name": f"{call.operation} {call.model}",
                          "kind": "Client", "service": call.app, "start": call.timestamp,
                          "duration_ns": call.duration_ns, "status": call.status, "status_message": ""})
            known.add(span_id)
    children: dict[str, list[dict]] = {}
    for span in spans:
        parent = span["parent_span_id"] if span["parent_span_id"] in known else ""
        children.setdefault(parent, []).append(span)
    ordered: list[TraceSpan] = []
    stack = [(span, 0) for span in sorted(children.get("", []), key=_order, reverse=True)]
    seen: set[str] = set()
    while stack:
        span, depth = stack.pop()
        if span["span_id"] in seen:  # a cycle in bad data: show each span once
            continue
        seen.add(span["span_id"])
        ordered.append(TraceSpan(depth=depth, call=calls.get(span["span_id"]), **span))
        stack += [(child, depth + 1) for child in sorted(children.get(span["span_id"], []), key=_order, reverse=True)]
    return ordered


def _order(span: dict):
    return span["start"], span["span_id"]
