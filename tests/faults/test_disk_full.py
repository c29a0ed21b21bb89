"""A full disk stops storing for a while, never for good, and loses or doubles nothing.

The data directory's parts live on small tmpfs mounts that the tests fill up: the store's
files (`clickhouse/`) on one, and the log and the dead-letter file on another, so that
either can be full on its own.
"""
from __future__ import annotations

import http.client
import json
import signal
import time

from llm_traffic import RetryingClient, llm_request, run_clients
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from service_harness import start_service

SPANS = 50  # per request


def _get(service, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection(service.http_url.split("//", 1)[1], timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read().decode()


def _wait_until(condition, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)
    return result


def _readiness(service) -> tuple[int, dict]:
    status, body = _get(service, "/readyz")
    return status, json.loads(body)


def _metric(service, name: str) -> float:
    _, text = _get(service, "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not on /metrics")


def _assert_stored_once_and_rollups_agree(service, llm_spans: int, trace_spans: int) -> None:
    assert service.wait_for("SELECT count() FROM llm_spans", llm_spans, timeout=90) == llm_spans
    time.sleep(0.5)  # anything written twice would have arrived by now
    counts = service.query("SELECT count() AS n, uniqExact(trace_id, span_id) AS spans, toString(sum(cost)) AS cost, "
                           "sum(input_tokens) AS input FROM llm_spans")[0]
    assert counts["n"] == counts["spans"] == llm_spans
    traces = service.query("SELECT count() AS n, uniqExact(TraceId, SpanId) AS spans FROM otel_traces")[0]
    assert traces == {"n": trace_spans, "spans": trace_spans}
    expected = {"n": counts["n"], "cost": counts["cost"], "input": counts["input"]}

    def rollups():
        return [service.query(f"SELECT sum(requests) AS n, toString(sum(cost)) AS cost, sum(input_tokens) AS input "
                              f"FROM {table}")[0] for table in ("llm_cost_hourly", "llm_cost_daily_by_user")]

    # A materialized view's part may commit a moment after its source table's on a busy machine.
    deadline = time.monotonic() + 30
    while rollups() != [expected, expected] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert rollups() == [expected, expected]


def test_a_full_store_disk_is_waited_out_and_everything_is_stored_once(tmp_path, small_disk):
    data_dir = tmp_path / "data"
    store_disk = small_disk(data_dir / "clickhouse", size_mb=48)
    service = start_service(data_dir)
    try:
        before = RetryingClient([llm_request(n) for n in range(4)])
        run_clients([before], service.http_url)
        before.thread.join(timeout=60)
        assert service.wait_for("SELECT count() FROM llm_spans", 4 * SPANS) == 4 * SPANS
        status, body = _readiness(service)
        assert status == 200 and body["store_ok"] is True

        store_disk.fill()
        during = RetryingClient([llm_request(100 + n) for n in range(10)])
        run_clients([during], service.http_url)
        during.thread.join(timeout=60)
        assert during.acknowledged == 10  # the log is on another disk: still durable, still a 200

        # ClickHouse answers NOT_ENOUGH_SPACE: an outage to wait out, not a rejection of the data.
        status, body = _wait_until(lambda: (r := _readiness(service))[0] == 503 and r, "/readyz says not ready")
        assert body["ready"] is False and body["store_ok"] is False
        assert "NOT_ENOUGH_SPACE" in body["store_error"]
        assert body["log_lag_records"] >= 1
        _wait_until(lambda: _metric(service, "llmledger_insert_retries_total") >= 3, "the drain retried 3 times")
        assert _metric(service, "llmledger_drain_stalled") == 1
        assert _metric(service, "llmledger_wal_lag_records") >= 1  # gauges move while the store is down
        assert not (data_dir / "dead-letter.jsonl").exists()
        assert _metric(service, "llmledger_dead_letters_total") == 0

        store_disk.free()
        _assert_stored_once_and_rollups_agree(service, 14 * SPANS, 14 * SPANS)
        status, body = _wait_until(lambda: (r := _readiness(service))[0] == 200 and r, "/readyz says ready")
        assert body["store_ok"] is True and body["store_error"] == ""
        assert _metric(service, "llmledger_drain_stalled") == 0
        assert _metric(service, "llmledger_drain_crashes_total") == 0
        log = service.log_path.read_text()
        # One line when the outage starts, one when it ends, however many retries in between.
        assert log.count("cannot store") == 1, log
        assert log.count("storing again") == 1, log
        assert not (data_dir / "dead-letter.jsonl").exists()
    finally:
        service.stop()


def _with_input_tokens(body: bytes, tokens: int) -> bytes:
    request = ExportTraceServiceRequest.FromString(body)
    for span in request.resource_spans[0].scope_spans[0].spans:
        for attribute in span.attributes:
            if attribute.key == "gen_ai.usage.input_tokens":
                attribute.value.int_value = tokens
    return request.SerializeToString()


def test_both_disks_full_and_a_rejected_record_nothing_lost_nothing_twice(tmp_path, small_disk):
    data_dir = tmp_path / "data"
    log_disk = small_disk(data_dir, size_mb=24)  # the log, the dead-letter file, the service's own files
    store_disk = small_disk(data_dir / "clickhouse", size_mb=48)
    service = start_service(data_dir, admin_sql=True)
    try:
        # A rule in the store that one request's rows break: ClickHouse rejects them for good.
        service.admin_sql("ALTER TABLE llm_spans ADD CONSTRAINT small_calls CHECK input_tokens < 5000")
        store_disk.fill()
        first = RetryingClient([llm_request(1), _with_input_tokens(llm_request(2), 9000), llm_request(3)])
        run_clients([first], service.http_url)
        first.thread.join(timeout=60)
        assert first.acknowledged == 3
        _wait_until(lambda: "NOT_ENOUGH_SPACE" in _readiness(service)[1]["store_error"], "the store is full")

        log_disk.fill()
        late = RetryingClient([llm_request(4)])  # refused with 503 while the log cannot grow
        run_clients([late], service.http_url)
        _wait_until(lambda: late.refused >= 1, "a request is refused while the log's disk is full")
        assert late.acknowledged == 0

        # The store has room again, but the rejected record cannot be set aside yet: its
        # dead-letter entry has nowhere to go. The drain waits; it does not die.
        store_disk.free()
        _, body = _wait_until(lambda: (r := _readiness(service))[0] == 503 and "No space left" in r[1]["store_error"]
                              and r, "the drain waits for room for the dead-letter file")
        assert service.process.poll() is None
        assert service.scalar("SELECT count() FROM llm_spans") in (0, SPANS)  # in order: at most the record before

        log_disk.free()
        late.thread.join(timeout=60)
        assert late.acknowledged == 1
        _assert_stored_once_and_rollups_agree(service, 3 * SPANS, 4 * SPANS)
        entries = [json.loads(line) for line in (data_dir / "dead-letter.jsonl").read_text().splitlines()]
        assert len(entries) == 1 and "small_calls" in entries[0]["reason"]
        # Its trace rows were stored (otel_traces took them); only its llm_spans rows are set aside.
        assert entries[0]["table"] == "llm_spans"
        assert service.scalar("SELECT count() FROM llm_spans WHERE input_tokens >= 5000") == 0
        assert _metric(service, "llmledger_dead_letters_total") == 1
        _wait_until(lambda: _readiness(service)[0] == 200, "/readyz says ready again")
    finally:
        service.stop(sig=signal.SIGKILL)

    # Replaying the log after a crash stores nothing twice and sets nothing aside twice.
    restarted = start_service(data_dir)
    try:
        _assert_stored_once_and_rollups_agree(restarted, 3 * SPANS, 4 * SPANS)
        assert len((data_dir / "dead-letter.jsonl").read_text().splitlines()) == 1
    finally:
        restarted.stop()
