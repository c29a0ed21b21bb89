"""Bringing the twin index back after a restart: the calls of the last window, from the
store and from the write-ahead log's unwritten tail."""
from __future__ import annotations

from importlib import resources
from typing import Iterable

from llmledger.processor.record import LlmCall

_FIELDS = ("trace_id", "span_id", "parent_span_id", "duration_ns", "service_name", "instrumentation",
           "request_model", "response_model", "input_tokens", "output_tokens", "cache_read_tokens",
           "cache_write_tokens", "reasoning_tokens", "usage_source", "response_id", "status", "streaming")


def call_from_row(row: dict) -> LlmCall:
    """The matching-relevant part of a stored call (an llm_spans row by column name)."""
    timestamp = row["timestamp_ns"] if "timestamp_ns" in row else row["timestamp"]
    call = LlmCall(timestamp_ns=int(timestamp), **{name: row[name] for name in _FIELDS if name in row})
    call.usage_reported = call.usage_source != "absent"
    # A stored row keeps no finish reason: usage or a response id tell it answered.
    call.answered = call.usage_reported or bool(call.response_id)
    return call


def stored_calls(client, window_ns: int, limit: int) -> list[LlmCall]:
    sql = resources.files(__package__).joinpath("sql", "recent_calls.sql").read_text(encoding="utf-8")
    result = client.query(sql, parameters={"window_s": window_ns // 1_000_000_000, "limit": limit})
    return [call_from_row(dict(zip(result.column_names, row))) for row in result.result_rows]


def logged_calls(llm_rows: Iterable[list], columns: tuple[str, ...]) -> list[LlmCall]:
    """Calls from llm_spans rows as the log holds them (in `columns` order)."""
    return [call_from_row(dict(zip(columns, row))) for row in llm_rows]
