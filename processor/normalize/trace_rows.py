"""Spans as rows of `otel_traces`, the OpenTelemetry Collector ClickHouse exporter's table.

Values are the ones the exporter writes: ids in lowercase hex ("" when empty or all
zero), kind and status by name, attributes as text maps (see `values.py`), the span's
duration in nanoseconds, events and links as the parallel arrays of their Nested
columns. Timestamps are int nanoseconds since the epoch (clickhouse-connect writes
ints into DateTime64(9) as they are; a datetime would lose the nanoseconds).
"""
from __future__ import annotations

from .values import attributes_text

_MAP = "Map(LowCardinality(String), String)"
# The columns and their types, as migration 001 creates them (a test compares the two).
OTEL_TRACES_TYPES: tuple[tuple[str, str], ...] = (
    ("Timestamp", "DateTime64(9)"),
    ("TraceId", "String"),
    ("SpanId", "String"),
    ("ParentSpanId", "String"),
    ("TraceState", "String"),
    ("SpanName", "LowCardinality(String)"),
    ("SpanKind", "LowCardinality(String)"),
    ("ServiceName", "LowCardinality(String)"),
    ("ResourceAttributes", _MAP),
    ("ScopeName", "String"),
    ("ScopeVersion", "String"),
    ("SpanAttributes", _MAP),
    ("Duration", "UInt64"),
    ("StatusCode", "LowCardinality(String)"),
    ("StatusMessage", "String"),
    ("Events.Timestamp", "Array(DateTime64(9))"),
    ("Events.Name", "Array(LowCardinality(String))"),
    ("Events.Attributes", f"Array({_MAP})"),
    ("Links.TraceId", "Array(String)"),
    ("Links.SpanId", "Array(String)"),
    ("Links.TraceState", "Array(String)"),
    ("Links.Attributes", f"Array({_MAP})"),
)
OTEL_TRACES_COLUMNS: tuple[str, ...] = tuple(name for name, _ in OTEL_TRACES_TYPES)
# Where a row keeps its span attributes: pricing adds the call's cost there.
SPAN_ATTRIBUTES_INDEX = OTEL_TRACES_COLUMNS.index("SpanAttributes")

SPAN_KIND_NAMES = {0: "Unspecified", 1: "Internal", 2: "Server", 3: "Client", 4: "Producer", 5: "Consumer"}
STATUS_CODE_NAMES = {0: "Unset", 1: "Ok", 2: "Error"}


def id_hex(raw: bytes) -> str:
    """An id as the exporter writes it: "" for an empty or all-zero id."""
    return "" if raw.count(0) == len(raw) else raw.hex()


def trace_row(
    span,
    *,
    start: int,
    end: int,
    status,
    trace_id: str,
    span_id: str,
    parent_span_id: str,
    service_name: str,
    resource_attributes: dict[str, str],
    scope_name: str,
    scope_version: str,
    span_attributes: dict[str, str],
) -> list:
    """One row in OTEL_TRACES_COLUMNS order. `resource_attributes` is shared by the rows of a
    resource, not copied: treat it as read-only. `start`, `end` and `status` are the span's own,
    read by the caller (each read of a protobuf field costs)."""
    row = [
        start,
        trace_id,
        span_id,
        parent_span_id,
        span.trace_state,
        span.name,
        SPAN_KIND_NAMES.get(span.kind, ""),
        service_name,
        resource_attributes,
        scope_name,
        scope_version,
        span_attributes,
        end - start,
        STATUS_CODE_NAMES.get(status.code, ""),
        status.message,
    ]
    events = span.events
    if events:
        row += (
            [event.time_unix_nano for event in events],
            [event.name for event in events],
            [attributes_text(event.attributes) for event in events],
        )
    else:
        row += ([], [], [])
    links = span.links
    if links:
        row += (
            [id_hex(link.trace_id) for link in links],
            [id_hex(link.span_id) for link in links],
            [link.trace_state for link in links],
            [attributes_text(link.attributes) for link in links],
        )
    else:
        row += ([], [], [], [])
    return row
