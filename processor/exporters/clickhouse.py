"""Writes batches to ClickHouse: every span to `otel_traces`, every LLM call to `llm_spans`.

A batch arrives as the log keeps it, RowBinary blocks per table (see `batches`), and goes
in as it is: no Python value is built again between the log and the store. Each insert
carries a deterministic `insert_deduplication_token`, so re-inserting a batch after a crash
(the write-ahead log replays it with the same token) stores it once, in the tables and in
the materialized-view rollups behind them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..batches import Section
from ..normalize.trace_rows import OTEL_TRACES_TYPES
from ..record import LlmCall
from .rowbinary import Layout

if TYPE_CHECKING:  # the worker processes encode rows without the driver
    from clickhouse_connect.driver.client import Client

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
)  # fmt: skip
LLM_SPANS_COLUMNS = tuple(name for name, _ in LLM_SPANS_TYPES)
LLM_SPANS_LAYOUT = Layout("llm_spans", LLM_SPANS_TYPES)
OTEL_TRACES_LAYOUT = Layout("otel_traces", OTEL_TRACES_TYPES)


def llm_span_row(call: LlmCall) -> list:
    """The values of one `llm_spans` row, in LLM_SPANS_COLUMNS order: the one definition of an LLM row."""
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
    ]  # fmt: skip


def trace_section(trace_rows: list[list], layout: Layout = OTEL_TRACES_LAYOUT) -> Section:
    return Section("otel_traces", layout.header, len(trace_rows), layout.encode_rows(trace_rows))


def llm_section(llm_rows: list[list]) -> Section:
    return Section("llm_spans", LLM_SPANS_LAYOUT.header, len(llm_rows), LLM_SPANS_LAYOUT.encode_rows(llm_rows))


def _insert_settings(token: str, distributed: bool) -> dict:
    settings = {
        "insert_deduplication_token": token,
        # The rollups are fed by materialized views: deduplicate their blocks too.
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        # A batch of spans from many days (a backfill) spans many partitions; past the default
        # of 100 ClickHouse refuses the whole batch, again on every retry.
        "max_partitions_per_insert_block": 0,
    }
    if distributed:
        # Into a Distributed table: return once every shard has its rows, so that the log is
        # committed only then, and each shard deduplicates its part of a replay by the token.
        settings["distributed_foreground_insert"] = 1
    return settings


class InsertFailed(Exception):
    """An insert into `table` failed; `cause` is the driver's error."""

    def __init__(self, table: str, cause: Exception):
        super().__init__(f"insert into {table} failed: {cause}")
        self.table = table
        self.cause = cause


class ClickHouseWriter:
    def __init__(self, client: Client, trace_columns: tuple[str, ...] = (), *, distributed: bool = False):
        """`trace_columns`: the otel_traces columns that `write` gets values of (default: all)."""
        self._client = client
        self._distributed = distributed
        types = dict(OTEL_TRACES_TYPES)
        self._trace_layout = (Layout("otel_traces", tuple((name, types[name]) for name in trace_columns))
                              if trace_columns else OTEL_TRACES_LAYOUT)

    def write(self, trace_rows: list[list], llm_rows: list[list], token: str) -> None:
        """Insert rows given as Python values: trace rows in the order of `trace_columns`, LLM
        rows in LLM_SPANS_COLUMNS order."""
        sections = [trace_section(trace_rows, self._trace_layout)] if trace_rows else []
        if llm_rows:
            sections.append(llm_section(llm_rows))
        self.write_sections(sections, token)

    def write_sections(self, sections: list[Section], token: str) -> None:
        """Insert one batch, a block per table, in order: llm_spans after otel_traces, so that
        a span is counted only once its trace row exists. Blocks of one table but of different
        layouts (a log written by an older version) go in one after the other, each with a
        token of its own. Raises InsertFailed naming the table that refused."""
        tokens: dict[str, int] = {}
        for section in sections:
            if not section.rows:
                continue
            n = tokens[section.table] = tokens.get(section.table, 0) + 1
            try:
                self._client.raw_insert(section.table, None, section.header + section.data,
                                        fmt="RowBinaryWithNamesAndTypes",
                                        settings=_insert_settings(token if n == 1 else f"{token}-{n}", self._distributed))
            except Exception as exc:  # the driver raises many kinds; the caller sorts outage from rejection
                raise InsertFailed(section.table, exc) from exc

    def ping(self) -> None:
        """Raises when the store cannot answer."""
        self._client.command("SELECT 1")
