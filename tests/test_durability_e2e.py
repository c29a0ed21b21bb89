"""Nothing lost, nothing double counted: kill -9 under load, a store that stops taking
inserts, a corrupted log tail. The clients here behave like OTLP exporters: they retry
every request until it is acknowledged, honouring Retry-After."""
from __future__ import annotations

import http.client
import signal
import time

from llm_traffic import RetryingClient, llm_request, run_clients
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from service_harness import start_service


def test_kill_9_under_load_loses_and_doubles_nothing(tmp_path):
    data_dir = tmp_path / "data"
    clients = [RetryingClient([llm_request(c * 1000 + n) for n in range(40)]) for c in range(3)]
    total_spans = sum(len(c.bodies) for c in clients) * 50
    service = start_service(data_dir)
    run_clients(clients, service.http_url)
    while sum(c.acknowledged for c in clients) < 15:
        time.sleep(0.01)
    for client in clients:
        client.url = None  # the clients keep retrying; nothing reaches a dead address
    service.stop(sig=signal.SIGKILL)
    acknowledged_before_crash = sum(c.acknowledged for c in clients)

    restarted = start_service(data_dir)
    try:
        for client in clients:
            client.url = restarted.http_url
        for client in clients:
            client.thread.join(timeout=120)
        assert sum(c.acknowledged for c in clients) == 120 > acknowledged_before_crash
        assert restarted.wait_for("SELECT count() FROM llm_spans", total_spans, timeout=300) == total_spans
        time.sleep(0.5)
        counts = restarted.query("SELECT count() AS n, uniqExact(trace_id, span_id) AS unique FROM llm_spans")[0]
        assert counts == {"n": total_spans, "unique": total_spans}
        assert restarted.scalar("SELECT count() FROM otel_traces") == total_spans
        # The rollups are written by the same insert but become visible just after the table.
        assert restarted.wait_for("SELECT sum(requests) FROM llm_cost_hourly", total_spans) == total_spans
    finally:
        restarted.stop()


def test_store_refusing_inserts_then_recovering_loses_nothing(tmp_path):
    config = tmp_path / "small-log.yaml"
    config.write_text("wal:\n  max_bytes: 600000\n  segment_bytes: 100000\n")
    service = start_service(tmp_path / "data", "--config", str(config), admin_sql=True)
    try:
        service.query("SELECT 1")  # the store is open
        service.admin_sql("DETACH TABLE llm_spans")  # from now on every insert into it fails
        clients = [RetryingClient([llm_request(c * 1000 + n) for n in range(30)]) for c in range(2)]
        run_clients(clients, service.http_url)
        deadline = time.monotonic() + 60
        while sum(c.refused for c in clients) == 0:
            assert time.monotonic() < deadline, "the log never filled"
            time.sleep(0.05)
        ready = http.client.HTTPConnection(service.http_url.split("//", 1)[1], timeout=10)
        ready.request("GET", "/readyz")
        assert ready.getresponse().status == 503

        service.admin_sql("ATTACH TABLE llm_spans")  # the store is back
        for client in clients:
            client.thread.join(timeout=120)
        assert all(c.acknowledged == 30 for c in clients)
        total = 2 * 30 * 50
        assert service.wait_for("SELECT count() FROM llm_spans", total, timeout=300) == total
        time.sleep(0.5)
        assert service.query("SELECT count() AS n, uniqExact(span_id) AS unique FROM llm_spans")[0] == {
            "n": total, "unique": total}
        # The batches that failed half-way (otel_traces written, llm_spans not) were retried
        # with the same token: no span twice in otel_traces either.
        assert service.scalar("SELECT count() FROM otel_traces") == total
        assert service.scalar("SELECT sum(requests) FROM llm_cost_hourly") == total
        connection = http.client.HTTPConnection(service.http_url.split("//", 1)[1], timeout=10)
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
        assert "llmledger_insert_retries_total" in text and "llmledger_requests_refused_total" in text
    finally:
        service.stop()


def test_a_corrupted_log_tail_is_skipped_and_the_good_records_kept(tmp_path):
    data_dir = tmp_path / "data"
    config = tmp_path / "no-store.yaml"
    config.write_text("storage:\n  clickhouse_url: http://127.0.0.1:9/\n")  # nothing listens: all stays in the log
    service = start_service(data_dir, "--config", str(config))
    client = RetryingClient([llm_request(n, spans=10) for n in range(5)])
    run_clients([client], service.http_url)
    client.thread.join(timeout=60)
    assert client.acknowledged == 5
    service.stop(sig=signal.SIGKILL)

    segments = sorted((data_dir / "wal").glob("*.wal"))
    with open(segments[-1], "ab") as segment:
        segment.write(b"\x13torn half-written record \xff" * 7)

    restarted = start_service(data_dir)  # the embedded store this time
    try:
        assert "replaying 5 acknowledged log records" in restarted.process.stdout.readline()
        assert restarted.wait_for("SELECT count() FROM llm_spans", 50) == 50
        assert "not an intact record" in restarted.log_path.read_text()
    finally:
        restarted.stop()


def test_records_the_store_rejects_go_to_dead_letters_and_the_rest_is_written(tmp_path):
    service = start_service(tmp_path / "data", admin_sql=True)
    try:
        # A rule in the store that some rows break: ClickHouse refuses them on insert.
        service.admin_sql("ALTER TABLE llm_spans ADD CONSTRAINT small_calls CHECK input_tokens < 5000")
        bad = ExportTraceServiceRequest.FromString(llm_request(7, spans=3))
        for span in bad.resource_spans[0].scope_spans[0].spans:
            for attribute in span.attributes:
                if attribute.key == "gen_ai.usage.input_tokens":
                    attribute.value.int_value = 9000
        client = RetryingClient([llm_request(1, spans=5), bad.SerializeToString(), llm_request(2, spans=5)])
        run_clients([client], service.http_url)
        client.thread.join(timeout=60)
        assert client.acknowledged == 3  # all were durable when acknowledged

        assert service.wait_for("SELECT count() FROM llm_spans", 10) == 10  # the good records
        dead_letters = tmp_path / "data" / "dead-letter.jsonl"
        deadline = time.monotonic() + 30
        while not dead_letters.exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        entry = __import__("json").loads(dead_letters.read_text().splitlines()[0])
        assert "small_calls" in entry["reason"] and entry["payload_hex"]
        # Trace rows are written once, also those of the batch that failed half-way.
        counts = service.query("SELECT count() AS n, uniqExact(SpanId) AS unique FROM otel_traces")[0]
        assert counts["n"] == counts["unique"] >= 10
        connection = http.client.HTTPConnection(service.http_url.split("//", 1)[1], timeout=10)
        connection.request("GET", "/metrics")
        assert "llmledger_dead_letters_total 1.0" in connection.getresponse().read().decode()
    finally:
        service.stop()
