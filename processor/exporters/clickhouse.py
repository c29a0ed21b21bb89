"""Writes batches of rows to ClickHouse: every span to `otel_traces`, every LLM call to
`llm_spans`, log records to `otel_logs`, metric points to the `otel_metrics_*` tables.

A batch is rows by table (`wal.payload`), written table by table in TABLE_COLUMNS order.
Each table's rows go in with the batch's deterministic `insert_deduplication_token`, so
re-inserting a batch after a crash (the write-ahead log replays it with the same token)
stores it once, in the tables and in the materialized-view rollups behind them.
"""
from __future__ import annotations

from decimal import Decimal

from clickhouse_connect.driver.client import Client

from ..normalize import OTEL_TRACES_COLUMNS
from ..normalize.log_rows import OTEL_LOGS_COLUMNS, OTEL_LOGS_TABLE
from ..normalize.metric_rows import METRIC_TABLES
from ..corrections import Replacement, apply_replacements
from ..record import LlmCall

LLM_SPANS_COLUMNS = (
    "timestamp", "trace_id", "span_id", "parent_span_id", "service_name", "app", "environment",
    "provider", "operation", "request_model", "response_model", "server_address", "service_tier",
    "streaming", "user_id", "session_id", "team", "feature", "tenant", "tags",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
    "usage_reported", "cost", "cost_details", "price_source", "price_version", "unpriced",
    "duration_ns", "time_to_first_chunk", "status", "error_type",
    "cache_kind", "cache_source_trace_id", "cache_source_span_id", "requested_model", "routing_reason",
    "saving_strategy", "saved_cost", "prompt_cache_saved",
    # Migration 020; sign and row_version take their defaults (1): a new call's first version.
    "response_id", "instrumentation", "usage_source", "reported_cost", "reported_cost_source",
    "reported_cost_disagrees",
)  # fmt: skip


def llm_span_row(call: LlmCall) -> list:
    """The values of one `llm_spans` row, in LLM_SPANS_COLUMNS order."""
    return [
        call.timestamp_ns, call.trace_id, call.span_id, call.parent_span_id, call.service_name, call.app,
        call.environment, call.provider, call.operation, call.request_model, call.response_model,
        call.server_address, call.service_tier, call.streaming, call.user_id, call.session_id, call.team,
        call.feature, call.tenant, call.tags, call.input_tokens, call.output_tokens, call.cache_read_tokens,
        call.cache_write_tokens, call.reasoning_tokens, call.usage_reported, call.cost, call.cost_details,
        call.price_source, call.price_version, int(call.unpriced), call.duration_ns, call.time_to_first_chunk,
        call.status, call.error_type,
        call.cache_kind, call.cache_source_trace_id, call.cache_source_span_id, call.requested_model,
        call.routing_reason, call.saving_strategy, call.saved_cost, call.prompt_cache_saved,
        call.response_id, call.instrumentation, call.usage_source,
        call.reported_cost, call.reported_cost_source, int(call.reported_cost_disagrees),
    ]  # fmt: skip


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


# Not a table: the stored calls a batch's spans replace (twins/), applied after every table.
REPLACED_CALLS = "replaced_calls"


def tables_before(table: str) -> frozenset[str]:
    """The tables a batch writes before `table`: stored already when an insert into it fails."""
    order = [*TABLE_COLUMNS, REPLACED_CALLS]
    return frozenset(order[: order.index(table)]) if table in order else frozenset()


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
    """`write_tables` writes any batch; `write` is its shorthand for spans and their calls.
    `trace_columns` names the otel_traces columns the trace rows hold (all by default)."""

    def __init__(self, client: Client, trace_columns: tuple[str, ...] = OTEL_TRACES_COLUMNS):
        self._client = client
        self._columns = {**TABLE_COLUMNS, "otel_traces": tuple(trace_columns)}

    def write(self, trace_rows: list[list], llm_rows: list[list], token: str,
              replacements: list[Replacement] = ()) -> None:
        self.write_tables({"otel_traces": trace_rows, "llm_spans": llm_rows, REPLACED_CALLS: list(replacements)}, token)

    def write_tables(self, tables: dict[str, list], token: str, *, skip: frozenset[str] = frozenset()) -> None:
        """Insert one batch, table by table in TABLE_COLUMNS order, then apply its replaced
        calls (corrections/: a replaced call's row exists once the batch is in); `skip` the
        tables known to be stored already. Raises InsertFailed (naming the table) or KeyError
        for a table this version does not know."""
        unknown = set(tables) - set(self._columns) - {REPLACED_CALLS}
        if unknown:
            raise KeyError(f"rows for unknown tables {sorted(unknown)}")
        for table, columns in self._columns.items():
            rows = tables.get(table)
            if rows and table not in skip:
                self._insert(table, rows, columns, token)
        replacements = tables.get(REPLACED_CALLS)
        if replacements and REPLACED_CALLS not in skip:
            try:
                apply_replacements(self._client, list(replacements))
            except Exception as exc:  # as for an insert: the drain sorts outage from rejection
                raise InsertFailed(REPLACED_CALLS, exc) from exc

    def ping(self) -> None:
        """Raises when the store cannot answer."""
        self._client.command("SELECT 1")

    def _insert(self, table: str, rows: list[list], columns: tuple[str, ...], token: str) -> None:
        try:
            self._client.insert(table, rows, column_names=columns, settings=_insert_settings(token))
        except Exception as exc:  # the driver raises many kinds; the caller sorts outage from rejection
            raise InsertFailed(table, exc) from exc
