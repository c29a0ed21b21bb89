"""`llmledger serve` as the whole OTLP endpoint: metrics and logs from the real SDK exporters
land in the Collector ClickHouse exporter's tables with the values it would write, GenAI
events sit beside their call by trace id, bad records are a partial success, and a kill -9
loses nothing acknowledged."""
from __future__ import annotations

import http.client
import signal
import threading
import time
from decimal import Decimal

from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExportResult

from llm_traffic import GPT_4O_MINI_CHAT, GPT_4O_MINI_COST, encoded_request
from service_harness import start_service
from signal_traffic import (
    IN_FLIGHT,
    INPUT_TOKENS,
    LATENCIES,
    OUTPUT_TOKENS,
    QUEUE_DEPTH,
    REQUESTS,
    SERVICE,
    TOKEN_BOUNDS,
    sdk_logs,
    sdk_metrics,
)

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def _post(url: str, path: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(url.split("//", 1)[1], timeout=30)
    connection.request("POST", path, body, PROTOBUF)
    response = connection.getresponse()
    answer = response.read()
    connection.close()
    return response.status, answer


def test_sdk_metrics_land_in_the_exporters_tables(service):
    exporter = OTLPMetricExporter(endpoint=f"{service.http_url}/v1/metrics", compression=Compression.Gzip)
    assert exporter.export(sdk_metrics()) == MetricExportResult.SUCCESS

    assert service.wait_for("SELECT count() FROM otel_metrics_histogram", 2) == 2
    usage = service.query(
        "SELECT Attributes['gen_ai.token.type'] AS type, Count, Sum, Min, Max, BucketCounts, ExplicitBounds, "
        "MetricUnit, ServiceName, AggregationTemporality FROM otel_metrics_histogram "
        "WHERE MetricName = 'gen_ai.client.token.usage' ORDER BY type")
    in_bucket_of = {INPUT_TOKENS: 6, OUTPUT_TOKENS: 5}  # 1024 < 1200 <= 4096; 256 < 300 <= 1024
    for row, tokens in zip(usage, (INPUT_TOKENS, OUTPUT_TOKENS)):
        assert row["Count"] == 1 and row["Sum"] == row["Min"] == row["Max"] == tokens
        assert row["BucketCounts"] == [1 if i == in_bucket_of[tokens] else 0 for i in range(len(TOKEN_BOUNDS) + 1)]
        assert row["ExplicitBounds"] == list(TOKEN_BOUNDS)
        assert (row["MetricUnit"], row["ServiceName"], row["AggregationTemporality"]) == ("{token}", SERVICE, 2)
    assert [row["type"] for row in usage] == ["input", "output"]

    sums = service.query("SELECT MetricName, Value, IsMonotonic FROM otel_metrics_sum ORDER BY MetricName")
    assert sums == [{"MetricName": "llm.in_flight", "Value": IN_FLIGHT, "IsMonotonic": False},
                    {"MetricName": "llm.requests", "Value": REQUESTS, "IsMonotonic": True}]
    assert service.scalar("SELECT Value FROM otel_metrics_gauge WHERE MetricName = 'llm.queue_depth'") == QUEUE_DEPTH
    exponential = service.query("SELECT Count, Sum, Min, Max FROM otel_metrics_exponential_histogram")
    assert exponential == [{"Count": 3, "Sum": sum(LATENCIES), "Min": min(LATENCIES), "Max": max(LATENCIES)}]


def test_genai_events_sent_as_logs_sit_beside_their_priced_call(service):
    records, (trace_id, span_id) = sdk_logs()
    exporter = GrpcLogExporter(endpoint=service.grpc_address, insecure=True)
    assert exporter.export(records) == LogRecordExportResult.SUCCESS
    # The call's span, with the same ids, priced into llm_spans.
    span_request = encoded_request([("chat gpt-4o-mini", GPT_4O_MINI_CHAT)], service_name=SERVICE)
    span_request = _with_ids(span_request, trace_id, span_id)
    assert _post(service.http_url, "/v1/traces", span_request)[0] == 200

    assert service.wait_for("SELECT count() FROM otel_logs", 3) == 3
    assert service.wait_for("SELECT count() FROM llm_spans", 1) == 1
    events = service.query(
        "SELECT l.EventName AS event, l.Body AS body, s.cost AS cost FROM otel_logs AS l "
        f"INNER JOIN llm_spans AS s ON l.TraceId = s.trace_id AND l.SpanId = s.span_id "
        f"WHERE l.TraceId = '{trace_id}' ORDER BY l.Timestamp")
    assert [(e["event"], e["body"], Decimal(e["cost"])) for e in events] == [
        ("gen_ai.user.message", '{"content":"Say hello."}', GPT_4O_MINI_COST),
        ("gen_ai.choice", '{"index":0,"message":{"content":"Hello!"}}', GPT_4O_MINI_COST),
    ]
    plain = service.query("SELECT Body, SeverityText, SeverityNumber, TraceId, LogAttributes['component'] AS c "
                          "FROM otel_logs WHERE EventName = ''")
    assert plain == [{"Body": "service started", "SeverityText": "INFO", "SeverityNumber": 9, "TraceId": "",
                      "c": "boot"}]


def _with_ids(body: bytes, trace_id: str, span_id: str) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(body)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.trace_id, span.span_id = bytes.fromhex(trace_id), bytes.fromhex(span_id)
    return request.SerializeToString()


def test_records_with_no_usable_time_are_a_partial_success_and_the_rest_is_stored(service):
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    now = time.time_ns()
    scope.log_records.add(time_unix_nano=now, body=AnyValue(string_value="kept"))
    scope.log_records.add(body=AnyValue(string_value="no time at all"))
    scope.log_records.add(time_unix_nano=now, trace_id=b"\x01" * 5, body=AnyValue(string_value="short id"))

    status, answer = _post(service.http_url, "/v1/logs", request.SerializeToString())

    assert status == 200
    partial = ExportLogsServiceResponse.FromString(answer).partial_success
    assert partial.rejected_log_records == 2
    assert "time is missing" in partial.error_message and "trace id must be 16 bytes" in partial.error_message
    assert service.wait_for("SELECT count() FROM otel_logs", 1) == 1
    assert service.scalar("SELECT Body FROM otel_logs") == "kept"


def test_a_retried_request_is_answered_again_and_stored_once(service):
    """A client whose answer was lost sends the same request again, maybe over the other
    transport, maybe while the first is still being logged: its points are stored once."""
    import grpc
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import MetricsServiceStub

    body = _metrics_body(1, points=5)
    answers = []
    senders = [threading.Thread(target=lambda: answers.append(_post(service.http_url, "/v1/metrics", body)[0]))
               for _ in range(3)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert answers == [200, 200, 200]
    with grpc.insecure_channel(service.grpc_address) as channel:
        MetricsServiceStub(channel).Export(ExportMetricsServiceRequest.FromString(body), timeout=10)
    assert _post(service.http_url, "/v1/metrics", _metrics_body(2, points=5))[0] == 200  # new content

    assert service.wait_for("SELECT count() FROM otel_metrics_gauge", 10) == 10
    time.sleep(1)  # nothing more comes
    assert service.scalar("SELECT count() FROM otel_metrics_gauge") == 10
    assert sorted(row["Value"] for row in service.query("SELECT Value FROM otel_metrics_gauge")) == [
        5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0]
    metrics = _get_metrics(service.http_url)
    assert 'llmledger_otlp_requests_duplicate_total{signal="metrics"} 3.0' in metrics


def _get_metrics(url: str) -> str:
    connection = http.client.HTTPConnection(url.split("//", 1)[1], timeout=30)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    return text


# --- kill -9 ---------------------------------------------------------------------------------------


def _logs_body(number: int, records: int = 20) -> bytes:
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    now = time.time_ns()
    for n in range(records):
        scope.log_records.add(time_unix_nano=now, body=AnyValue(string_value=f"{number}-{n}"))
    return request.SerializeToString()


def _metrics_body(number: int, points: int = 20) -> bytes:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="load.points")
    now = time.time_ns()
    for n in range(points):
        metric.gauge.data_points.add(time_unix_nano=now, as_int=number * points + n)
    return request.SerializeToString()


class _Sender:
    """Posts its bodies in order to `path`, each until a 200, like an OTLP exporter."""

    def __init__(self, path: str, bodies: list[bytes]):
        self.path, self.bodies, self.acknowledged, self.url = path, bodies, 0, None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        for body in self.bodies:
            while True:
                url = self.url
                try:
                    status = _post(url, self.path, body)[0] if url else None
                except OSError:
                    status = None  # the service is down: try again shortly
                if status == 200:
                    self.acknowledged += 1
                    break
                time.sleep(0.1)


def test_kill_9_loses_no_acknowledged_metric_point_or_log_record(tmp_path):
    data_dir = tmp_path / "data"
    logs = _Sender("/v1/logs", [_logs_body(n) for n in range(40)])
    metrics = _Sender("/v1/metrics", [_metrics_body(n) for n in range(40)])
    service = start_service(data_dir)
    for sender in (logs, metrics):
        sender.url = service.http_url
        sender.thread.start()
    while logs.acknowledged + metrics.acknowledged < 20:
        time.sleep(0.01)
    logs.url = metrics.url = None
    service.stop(sig=signal.SIGKILL)
    assert logs.acknowledged + metrics.acknowledged < 80  # the kill came mid-load

    restarted = start_service(data_dir)
    try:
        logs.url = metrics.url = restarted.http_url
        for sender in (logs, metrics):
            sender.thread.join(timeout=120)
        assert logs.acknowledged == metrics.acknowledged == 40
        assert restarted.wait_for("SELECT uniqExact(Body) FROM otel_logs", 800, timeout=60) == 800
        assert restarted.wait_for("SELECT uniqExact(Value) FROM otel_metrics_gauge", 800, timeout=60) == 800
        time.sleep(0.5)
        # The replay after the restart is deduplicated by its insert tokens: a record is
        # stored twice only if the client sent it twice (it was in flight at the kill, logged
        # but not answered, which OTLP allows): one request of 20 per sender at most.
        assert 800 <= restarted.scalar("SELECT count() FROM otel_logs") <= 820
        assert 800 <= restarted.scalar("SELECT count() FROM otel_metrics_gauge") <= 820
    finally:
        restarted.stop()
