"""Retention: each table's TTL follows the `retention:` config, changed only when the config
changes; old rows go, and the rollups keep what the calls they summed no longer show."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from llmledger.processor.config import ConfigError, load_config
from llmledger.processor.exporters.clickhouse import ClickHouseWriter, llm_span_row
from llmledger.processor.record import LlmCall
from llmledger.processor.storage.retention import RETENTION_TABLES, apply_retention

DAY = 86_400


def _retention(**days):
    return load_config(None, environ={f"LLMLEDGER_RETENTION_{k.upper()}": str(v) for k, v in days.items()}).retention


def _ttl(client, table: str) -> str:
    """The TTL clause of a table as ClickHouse reports it, '' when it has none."""
    engine = client.query("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = "
                          "{table:String}", parameters={"table": table}).result_rows[0][0]
    return engine.split(" TTL ", 1)[1].split(" SETTINGS ", 1)[0] if " TTL " in engine else ""


def _call(n: int, days_ago: float) -> LlmCall:
    return LlmCall(timestamp_ns=int((time.time() - days_ago * DAY) * 1e9), trace_id=f"{n:032x}", span_id=f"{n:016x}",
                   app="chat", provider="openai", operation="chat", request_model="gpt-4o-mini",
                   response_model="gpt-4o-mini", input_tokens=1000, output_tokens=100, cost=Decimal("0.00021"),
                   price_source="catalog", status="Ok", usage_reported=True)


def _store(client, calls: list[LlmCall]) -> None:
    for call in calls:  # one raw span per call too, as the drain writes them
        client.command(f"INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ServiceName, SpanName) VALUES "
                       f"(fromUnixTimestamp64Nano({call.timestamp_ns}), '{call.trace_id}', '{call.span_id}', "
                       "'chat', 'chat gpt-4o-mini')")
    ClickHouseWriter(client, ()).write([], [llm_span_row(c) for c in calls], token=f"retention-{calls[0].span_id}")


def _expire(client) -> None:
    """Run the TTLs now instead of at the next background merge."""
    for tables in RETENTION_TABLES.values():
        for table, _ in tables:
            if _ttl(client, table):
                client.command(f"ALTER TABLE {table} MATERIALIZE TTL SETTINGS mutations_sync = 2")
                client.command(f"OPTIMIZE TABLE {table} FINAL")


# Raw telemetry as received: spans, log records, metric points.
RAW = ["otel_traces", "otel_traces_trace_id_ts", "otel_logs", "otel_metrics_sum", "otel_metrics_gauge",
       "otel_metrics_histogram", "otel_metrics_exponential_histogram", "otel_metrics_summary"]


def test_the_defaults_keep_raw_spans_30_days_calls_400_and_rollups_forever(clickhouse):
    changed = apply_retention(clickhouse, _retention())
    assert sorted(changed) == sorted([*RAW, "llm_spans", "budget_alerts", "notification_deliveries",
                                      "notification_claims"])
    assert _ttl(clickhouse, "otel_traces") == "toDateTime(Timestamp) + toIntervalDay(30)"
    assert _ttl(clickhouse, "otel_traces_trace_id_ts") == "End + toIntervalDay(30)"
    assert _ttl(clickhouse, "otel_logs") == "TimestampTime + toIntervalDay(30)"
    assert _ttl(clickhouse, "otel_metrics_histogram") == "TimeUnix + toIntervalDay(30)"
    assert _ttl(clickhouse, "llm_spans") == "toDateTime(timestamp) + toIntervalDay(400)"
    assert _ttl(clickhouse, "llm_cost_hourly") == _ttl(clickhouse, "llm_cost_daily_by_user") == ""
    assert _ttl(clickhouse, "budget_alerts") == "toDateTime(greatest(claimed_at, expires_at)) + toIntervalDay(400)"
    assert apply_retention(clickhouse, _retention()) == []  # unchanged config: no table is touched again


def test_old_rows_go_and_the_rollups_outlive_them(clickhouse):
    _store(clickhouse, [_call(1, days_ago=1), _call(2, days_ago=45), _call(3, days_ago=100)])
    apply_retention(clickhouse, _retention(raw_spans_days=30, llm_spans_days=60))
    _expire(clickhouse)

    assert clickhouse.query("SELECT SpanId FROM otel_traces").result_rows == [(f"{1:016x}",)]
    assert sorted(clickhouse.query("SELECT span_id FROM llm_spans").result_rows) == [(f"{1:016x}",), (f"{2:016x}",)]
    # The hourly and daily rollups still count all three calls: 3 × 0.00021.
    assert clickhouse.query("SELECT sum(requests), sum(cost) FROM llm_cost_hourly").result_rows == [
        (3, Decimal("0.00063"))]
    assert clickhouse.query("SELECT sum(requests) FROM llm_cost_daily_by_user").result_rows == [(3,)]


def test_a_changed_retention_changes_only_its_tables_and_0_keeps_forever(clickhouse):
    apply_retention(clickhouse, _retention())
    assert apply_retention(clickhouse, _retention(raw_spans_days=7)) == RAW
    assert _ttl(clickhouse, "otel_traces") == "toDateTime(Timestamp) + toIntervalDay(7)"
    assert apply_retention(clickhouse, _retention(raw_spans_days=7, llm_spans_days=0)) == ["llm_spans"]
    assert _ttl(clickhouse, "llm_spans") == ""
    assert apply_retention(clickhouse, _retention(raw_spans_days=7, llm_spans_days=0, rollups_days=0)) == []
    changed = apply_retention(clickhouse, _retention(raw_spans_days=7, llm_spans_days=0, alerts_days=90))
    assert changed == ["budget_alerts", "notification_deliveries", "notification_claims"]
    assert _ttl(clickhouse, "notification_deliveries") == (
        "toDateTime(greatest(attempted_at, expires_at)) + toIntervalDay(90)")


@pytest.mark.parametrize("days, message", [
    ({"llm_spans_days": 10}, "retention.llm_spans_days: must be 0 or at least 35 days"),
    ({"alerts_days": -1}, "retention.alerts_days: must be a whole number of days"),
    ({"rollups_days": 100}, "retention.rollups_days: 100 must be 0 (forever) or at least llm_spans_days (400)"),
    ({"llm_spans_days": 0, "rollups_days": 400}, "at least llm_spans_days (forever)"),
])
def test_retention_that_would_lose_what_budgets_or_rollups_need_is_refused(tmp_path, days, message):
    path = tmp_path / "llmledger.yaml"
    path.write_text("retention:\n" + "".join(f"  {key}: {value}\n" for key, value in days.items()))
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert message in str(error.value)


def test_serve_applies_the_configured_retention_at_start(tmp_path):
    from service_harness import start_service

    service = start_service(tmp_path / "data", env={"LLMLEDGER_RETENTION_RAW_SPANS_DAYS": "7"})
    try:
        engine = service.wait_for("SELECT engine_full LIKE '%TTL toDateTime(Timestamp) + toIntervalDay(7)%' "
                                  "FROM system.tables WHERE database = 'llmledger' AND name = 'otel_traces'", 1)
        assert engine == 1
    finally:
        service.stop()
