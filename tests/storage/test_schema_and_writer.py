"""The ClickHouse side: migrations, exact Decimal costs, the rollups, and token deduplication."""
from __future__ import annotations

import pickle
from decimal import Decimal

from llmledger.processor.exporters.clickhouse import ClickHouseWriter, llm_span_row
from llmledger.processor.record import LlmCall
from llmledger.processor.storage.migrate import available_migrations, migrate
from llmledger.processor.wal import decode_rows

HOUR_NS = 3600 * 10**9
T0 = 1_767_225_600 * 10**9  # 2026-01-01 00:00:00 UTC


def _call(n: int, *, app="chat", model="gpt-4o-mini", cost="0.000195", at=T0, user="u1") -> LlmCall:
    return LlmCall(
        timestamp_ns=at, trace_id=f"{n:032x}", span_id=f"{n:016x}", app=app, provider="openai",
        operation="chat", request_model=model, response_model=model, user_id=user,
        input_tokens=1000, output_tokens=100, cache_read_tokens=200,
        cost=None if cost is None else Decimal(cost), unpriced=cost is None,
        cost_details={} if cost is None else {"input": Decimal(cost)},
        price_source="catalog" if cost else "", status="Ok", usage_reported=True,
    )


def test_migrations_are_numbered_and_idempotent(clickhouse):
    versions = [v for v, _, _ in available_migrations()]
    assert versions == sorted(set(versions)) and versions[0] == 1
    assert migrate(clickhouse) == []  # the fixture applied them all already
    tables = {r[0] for r in clickhouse.query("SHOW TABLES").result_rows}
    assert {"otel_traces", "otel_traces_trace_id_ts", "llm_spans", "llm_cost_hourly",
            "llm_cost_daily_by_user"} <= tables


def test_costs_stay_exact_and_rollups_add_up(clickhouse):
    writer = ClickHouseWriter(clickhouse, ())
    calls = [_call(n, cost="0.000000000001" if n % 2 else "0.1") for n in range(10)]
    calls.append(_call(99, cost=None, model="my-own-model"))
    writer.write([], [llm_span_row(c) for c in calls], token="batch-1")

    total = clickhouse.query("SELECT sum(cost), countIf(unpriced = 1), countIf(cost IS NULL) FROM llm_spans")
    # 5 × 0.1 + 5 × 1e-12 exactly: a float would not keep the last digit.
    assert total.result_rows[0] == (Decimal("0.500000000005"), 1, 1)
    hourly = clickhouse.query(
        "SELECT sum(requests), sum(unpriced_requests), sum(cost), sum(input_tokens) FROM llm_cost_hourly")
    assert hourly.result_rows[0] == (11, 1, Decimal("0.500000000005"), 11_000)
    model = clickhouse.query("SELECT DISTINCT model FROM llm_spans WHERE span_id = '{:016x}'".format(99))
    assert model.result_rows == [("my-own-model",)]


def test_same_token_stores_a_batch_once_in_table_and_rollups(clickhouse):
    writer = ClickHouseWriter(clickhouse, ())
    rows = [llm_span_row(_call(n, at=T0 + n * HOUR_NS, user=f"user{n % 3}")) for n in range(48)]
    writer.write([], rows, token="log-7-9")
    writer.write([], rows, token="log-7-9")  # a replay after a crash: same range, same token

    assert clickhouse.query("SELECT count(), uniqExact(span_id) FROM llm_spans").result_rows == [(48, 48)]
    assert clickhouse.query("SELECT sum(requests), sum(cost) FROM llm_cost_hourly").result_rows == [
        (48, Decimal("0.000195") * 48)]
    assert clickhouse.query("SELECT sum(requests) FROM llm_cost_daily_by_user").result_rows == [(48,)]

    writer.write([], rows[:1], token="log-10-10")  # another token is another batch
    assert clickhouse.query("SELECT count() FROM llm_spans").result_rows == [(49,)]


def test_calls_logged_by_earlier_versions_replay_with_the_later_columns_at_their_defaults(clickhouse):
    # A log record as the version before the savings columns wrote it (35 columns; pickled
    # format 1), and one as the version before migration 020 wrote it (43 columns).
    first, second = llm_span_row(_call(1)), llm_span_row(_call(2, cost=None))
    records = [pickle.dumps((1, [], [first[:35]])), pickle.dumps((1, [], [second[:43]]))]
    writer = ClickHouseWriter(clickhouse, ())
    for n, record in enumerate(records):
        writer.write_tables(decode_rows(record), token=f"old-{n}")

    stored = clickhouse.query(
        "SELECT span_id, cost, usage_source, saved_cost, prompt_cache_saved, response_id, reported_cost, sign "
        "FROM llm_spans ORDER BY span_id").result_rows
    assert stored == [(f"{1:016x}", Decimal("0.000195"), "provider", None, Decimal(0), "", None, 1),
                      (f"{2:016x}", None, "provider", None, Decimal(0), "", None, 1)]
    assert clickhouse.query("SELECT sum(requests), sum(cost) FROM llm_cost_hourly").result_rows == [
        (2, Decimal("0.000195"))]
