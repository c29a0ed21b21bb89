"""Writes batches to ClickHouse: every span to `otel_traces`, every LLM call to `llm_spans`,
log records to `otel_logs`, metric points to the `otel_metrics_*` tables.

Spans and calls arrive as the log keeps them, RowBinary blocks per table (see `batches`),
and go in as they are: no Python value is built again between the log and the store.
Metric and log rows are Python values (`wal.payload`). A batch is written table by table
in TABLE_COLUMNS order, then its replaced calls are applied. Each insert carries a
deterministic `insert_deduplication_token`, so re-inserting a batch after a crash (the
write-ahead log replays it with the same token) stores it once, in the tables and in the
materialized-view rollups behind them.
"""
from __future__ import annotations

import operator
from decimal import Decimal
from typing import TYPE_CHECKING

from ..batches import REPLACED_CALLS, Section
from ..normalize.log_rows import OTEL_LOGS_COLUMNS, OTEL_LOGS_TABLE
from ..normalize.metric_rows import METRIC_TABLES
from ..normalize.trace_rows import OTEL_TRACES_COLUMNS, OTEL_TRACES_TYPES
from ..record import LlmCall
from .rowbinary import Layout

if TYPE_CHECKING:  # the worker processes encode rows without the driver
    from clickhouse_connect.driver.client import Client

    from ..corrections import Replacement

# The columns of llm_spans the service writes, with their types as the migrations create them
# (a test compares the two). `model` is MATERIALIZED from these.
LLM_SPANS_TYPES: tuple[tuple[str, str], ...] = (
    ("timestamp", "DateTime64(9)"), ("trace_id", "String"), ("span_id", "String"), ("parent_span_id", "String"),
    ("service_name", "LowCardinality(String)"), ("app", "LowCardinality(String)"),
    ("environment", "LowCardinality(String)"), ("provider", "LowCardinality(String)"),
    ("operation", "LowCardinality(String)"), ("request_model", "LowCardinality(String)"),
    ("response_model", "LowCardinality(String)"), ("server_address", "LowCardinality(String)"),
    ("service_tier", "LowCardinality(String)"), ("streaming", "Bool"), ("user_id", "String"),
    ("session_id", "String"), ("team", "LowCardinality(String)"), ("feature", "LowCardinality(String)"),
    ("tenant", "LowCardinality(String)"), ("tags", "Map(LowCardinality(String), String)"),
    ("input_tokens", "UInt64"), ("output_tokens", "UInt64"), ("cache_read_tokens", "UInt64"),
    ("cache_write_tokens", "UInt64"), ("reasoning_tokens", "UInt64"), ("usage_reported", "Bool"),
    ("cost", "Nullable(Decimal(38, 12))"), ("cost_details", "Map(LowCardinality(String), Decimal(38, 12))"),
    ("price_source", "LowCardinality(String)"), ("price_version", "LowCardinality(String)"), ("unpriced", "UInt8"),
    ("duration_ns", "UInt64"), ("time_to_first_chunk", "Nullable(Float64)"), ("status", "LowCardinality(String)"),
    ("error_type", "LowCardinality(String)"),
    # Migration 015: what caching, routing and the provider's prompt caching saved.
    ("cache_kind", "LowCardinality(String)"), ("cache_source_trace_id", "String"), ("cache_source_span_id", "String"),
    ("requested_model", "LowCardinality(String)"), ("routing_reason", "LowCardinality(String)"),
    ("saving_strategy", "LowCardinality(String)"), ("saved_cost", "Nullable(Decimal(38, 12))"),
    ("prompt_cache_saved", "Decimal(38, 12)"),
    # Migration 020; sign and row_version take their defaults (1): a new call's first version.
    ("response_id", "String"), ("instrumentation", "LowCardinality(String)"),
    ("usage_source", "LowCardinality(String)"), ("reported_cost", "Nullable(Decimal(38, 12))"),
    ("reported_cost_source", "LowCardinality(String)"), ("reported_cost_disagrees", "UInt8"),
)  # fmt: skip
LLM_SPANS_COLUMNS = tuple(name for name, _ in LLM_SPANS_TYPES)
LLM_SPANS_LAYOUT = Layout("llm_spans", LLM_SPANS_TYPES)
OTEL_TRACES_LAYOUT = Layout("otel_traces", OTEL_TRACES_TYPES)


# The LlmCall fields of the llm_spans columns (named alike but for the timestamp), read in one call.
_LLM_ROW_FIELDS = operator.attrgetter(*({"timestamp": "timestamp_ns"}.get(name, name) for name in LLM_SPANS_COLUMNS))
_UNPRICED = LLM_SPANS_COLUMNS.index("unpriced")
_DISAGREES = LLM_SPANS_COLUMNS.index("reported_cost_disagrees")


def llm_span_row(call: LlmCall) -> list:
    """The values of one `llm_spans` row, in LLM_SPANS_COLUMNS order."""
    row = list(_LLM_ROW_FIELDS(call))
    row[_UNPRICED] = int(row[_UNPRICED])  # UInt8 columns
    row[_DISAGREES] = int(row[_DISAGREES])
    return row


# Columns added to llm_spans since the log's first format, with what a row logged before
# them stands for (the migrations' defaults): an upgrade replays the previous version's
# records. usage_source is worked out from usage_reported, as migration 020 does.
_LATER_LLM_COLUMNS = {
    "cache_kind": "", "cache_source_trace_id": "", "cache_source_span_id": "", "requested_model": "",
    "routing_reason": "", "saving_strategy": "", "saved_cost": None, "prompt_cache_saved": Decimal(0),
    "response_id": "", "instrumentation": "", "usage_source": None, "reported_cost": None,
    "reported_cost_source": "", "reported_cost_disagrees": 0,
}  # fmt: skip
_USAGE_REPORTED = LLM_SPANS_COLUMNS.index("usage_reported")
_USAGE_SOURCE = LLM_SPANS_COLUMNS.index("usage_source")


def complete_llm_rows(rows: list[list]) -> list[list]:
    """`llm_spans` rows of any earlier layout, in today's (they only ever gained columns at the end)."""
    if not rows or len(rows[0]) == len(LLM_SPANS_COLUMNS):
        return rows
    missing = LLM_SPANS_COLUMNS[len(rows[0]):]
    completed = []
    for row in rows:
        row = [*row, *(_LATER_LLM_COLUMNS[name] for name in missing)]
        if row[_USAGE_SOURCE] is None:
            row[_USAGE_SOURCE] = "provider" if row[_USAGE_REPORTED] else "absent"
        completed.append(row)
    return completed


# Every table a batch may hold rows for, in the order they are written: llm_spans after
# otel_traces, so that a call is counted only once its span's row exists.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "otel_traces": OTEL_TRACES_COLUMNS,
    "llm_spans": LLM_SPANS_COLUMNS,
    OTEL_LOGS_TABLE: OTEL_LOGS_COLUMNS,
    **dict(METRIC_TABLES.values()),
}


def tables_before(table: str) -> frozenset[str]:
    """The tables a batch writes before `table`: stored already when an insert into it fails."""
    order = [*TABLE_COLUMNS, REPLACED_CALLS]
    return frozenset(order[: order.index(table)]) if table in order else frozenset()


def trace_section(trace_rows: list[list], layout: Layout = OTEL_TRACES_LAYOUT) -> Section:
    return Section("otel_traces", layout.header, len(trace_rows), layout.encode_rows(trace_rows))


def llm_section(llm_rows: list[list]) -> Section:
    return Section("llm_spans", LLM_SPANS_LAYOUT.header, len(llm_rows), LLM_SPANS_LAYOUT.encode_rows(llm_rows))


def _insert_settings(token: str) -> dict:
    return {
        "insert_deduplication_token": token,
        # The rollups are fed by materialized views: deduplicate their blocks too.
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        # A batch of spans from many days (a backfill) spans many partitions; past the default
        # of 100 ClickHouse refuses the whole batch, again on every retry.
        "max_partitions_per_insert_block": 0,
    }


class InsertFailed(Exception):
    """An insert into `table` failed; `cause` is the driver's error."""

    def __init__(self, table: str, cause: Exception):
        super().__init__(f"insert into {table} failed: {cause}")
        self.table = table
        self.cause = cause


class ClickHouseWriter:
    """`write_tables` writes any batch of Python rows, `write_batch` encoded blocks too;
    `trace_columns` names the otel_traces columns the trace rows hold (all by default);
    `cluster` the ClickHouse cluster the store's schema is laid out for, if any."""

    def __init__(self, client: Client, trace_columns: tuple[str, ...] = (), *, cluster: str | None = None):
        self._client = client
        self._cluster = cluster
        types = dict(OTEL_TRACES_TYPES)
        self._trace_layout = (Layout("otel_traces", tuple((name, types[name]) for name in trace_columns))
                              if trace_columns else OTEL_TRACES_LAYOUT)

    def write(self, trace_rows: list[list], llm_rows: list[list], token: str,
              replacements: list[Replacement] = ()) -> None:
        """Insert rows given as Python values: trace rows in the order of `trace_columns`, LLM
        rows in LLM_SPANS_COLUMNS order."""
        self.write_tables({"otel_traces": trace_rows, "llm_spans": llm_rows, REPLACED_CALLS: list(replacements)}, token)

    def write_tables(self, tables: dict[str, list], token: str, *, skip: frozenset[str] = frozenset()) -> None:
        """`write_batch` for rows given as Python values, by table."""
        sections = []
        if tables.get("otel_traces"):
            sections.append(trace_section(tables["otel_traces"], self._trace_layout))
        if tables.get("llm_spans"):
            sections.append(llm_section(complete_llm_rows(tables["llm_spans"])))
        rows = {table: rows for table, rows in tables.items() if table not in ("otel_traces", "llm_spans")}
        self.write_batch(sections, rows, token, skip=skip)

    def write_sections(self, sections: list[Section], token: str) -> None:
        """`write_batch` of encoded blocks alone."""
        self.write_batch(sections, {}, token)

    def write_batch(self, sections: list[Section], tables: dict[str, list], token: str, *,
                    skip: frozenset[str] = frozenset()) -> None:
        """Insert one batch: encoded blocks (`sections`) and rows by table (`tables`, with the
        replaced calls under REPLACED_CALLS), table by table in TABLE_COLUMNS order, then apply
        the replaced calls (corrections/: a replaced call's row exists once the batch is in);
        `skip` the tables known to be stored already. Blocks of one table but of different
        layouts (a log written by an older version) go in one after the other, each with a
        token of its own. Raises InsertFailed (naming the table) or KeyError for a table this
        version does not know."""
        unknown = {s.table for s in sections} | set(tables)
        unknown -= {*TABLE_COLUMNS, REPLACED_CALLS}
        if unknown:
            raise KeyError(f"rows for unknown tables {sorted(unknown)}")
        for table, columns in TABLE_COLUMNS.items():
            if table in skip:
                continue
            blocks = [section for section in sections if section.table == table and section.rows]
            for n, section in enumerate(blocks, start=1):
                self._raw_insert(section, token if n == 1 else f"{token}-{n}")
            rows = tables.get(table)
            if rows:
                self._insert(table, rows, columns, f"{token}-{len(blocks) + 1}" if blocks else token)
        replacements = tables.get(REPLACED_CALLS)
        if replacements and REPLACED_CALLS not in skip:
            from ..corrections import apply_replacements

            try:
                apply_replacements(self._client, list(replacements), self._cluster)
            except Exception as exc:  # as for an insert: the drain sorts outage from rejection
                raise InsertFailed(REPLACED_CALLS, exc) from exc

    def ping(self) -> None:
        """Raises when the store cannot answer."""
        self._client.command("SELECT 1")

    def _raw_insert(self, section: Section, token: str) -> None:
        try:
            self._client.raw_insert(section.table, None, section.header + section.data,
                                    fmt="RowBinaryWithNamesAndTypes", settings=_insert_settings(token))
        except Exception as exc:  # the driver raises many kinds; the caller sorts outage from rejection
            raise InsertFailed(section.table, exc) from exc

    def _insert(self, table: str, rows: list[list], columns: tuple[str, ...], token: str) -> None:
        try:
            self._client.insert(table, rows, column_names=columns, settings=_insert_settings(token))
        except Exception as exc:  # the driver raises many kinds; the caller sorts outage from rejection
            raise InsertFailed(table, exc) from exc
