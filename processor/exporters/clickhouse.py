"""Writes priced batches to ClickHouse: every span to `otel_traces`, every LLM call to `llm_spans`.

Each batch goes in with a deterministic `insert_deduplication_token`, so re-inserting a
batch after a crash (the write-ahead log replays it with the same token) stores it once,
in the tables and in the materialized-view rollups behind them.
"""
from __future__ import annotations

from clickhouse_connect.driver.client import Client

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
    def __init__(self, client: Client, trace_columns: tuple[str, ...]):
        self._client = client
        self._trace_columns = trace_columns

    def write(self, trace_rows: list[list], llm_rows: list[list], token: str,
              replacements: list[Replacement] = ()) -> None:
        """Insert one batch. llm_spans goes last: a span is counted only once its trace row exists.
        `replacements` (stored calls a span of this batch replaces) are applied once the batch
        is in. Raises InsertFailed."""
        if trace_rows:
            self._insert("otel_traces", trace_rows, self._trace_columns, token)
        if llm_rows:
            self._insert("llm_spans", llm_rows, LLM_SPANS_COLUMNS, token)
        if replacements:
            try:
                apply_replacements(self._client, list(replacements))
            except Exception as exc:  # as for an insert: the drain sorts outage from rejection
                raise InsertFailed("llm_spans", exc) from exc

    def ping(self) -> None:
        """Raises when the store cannot answer."""
        self._client.command("SELECT 1")

    def _insert(self, table: str, rows: list[list], columns: tuple[str, ...], token: str) -> None:
        try:
            self._client.insert(table, rows, column_names=columns, settings=_insert_settings(token))
        except Exception as exc:  # the driver raises many kinds; the caller sorts outage from rejection
            raise InsertFailed(table, exc) from exc
