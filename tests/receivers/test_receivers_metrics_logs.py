"""OTLP metrics and logs on both receivers, answered as traces are: the SDK's exporters over
HTTP (protobuf, gzip) and gRPC, OTLP/JSON with hex ids, and bad input per the spec (400 /
INVALID_ARGUMENT, 413, 415, partial success, 503 / UNAVAILABLE with a retry hint, 401 /
UNAUTHENTICATED)."""
from __future__ import annotations

import gzip
import json

import grpc
import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExportResult
from receiver_harness import Receivers, RecordingPipeline
from signal_traffic import logs_request, metrics_request, sdk_logs, sdk_metrics

from llmledger.processor.pipeline import Principal
from llmledger.processor.receivers.signals import LOGS, METRICS

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def signals():
    """Receivers serving a recording pipeline per signal: (receivers, metrics, logs)."""
    started = []

    def start(**options):
        metrics, logs = RecordingPipeline(METRICS), RecordingPipeline(LOGS)
        receivers = Receivers(RecordingPipeline(), metrics=metrics, logs=logs, **options)
        receivers.start()
        started.append(receivers)
        return receivers, metrics, logs

    yield start
    for receivers in started:
        receivers.stop()


def post(receivers, path: str, body: bytes, headers: dict) -> httpx.Response:
    return httpx.post(receivers.http_url + path, content=body, headers=headers, timeout=60)


# --- what the SDK exporters send ------------------------------------------------------------


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_http_exporters_deliver_metrics_and_logs_exactly_as_sent(signals, compression):
    receivers, metrics, logs = signals()
    data = sdk_metrics()
    records, _ = sdk_logs()
    metric_exporter = HttpMetricExporter(endpoint=receivers.http_url + "/v1/metrics", compression=compression)
    log_exporter = HttpLogExporter(endpoint=receivers.http_url + "/v1/logs", compression=compression)

    assert metric_exporter.export(data) == MetricExportResult.SUCCESS
    assert log_exporter.export(records) == LogRecordExportResult.SUCCESS
    assert [r.SerializeToString() for r in metrics.requests] == [metrics_request(data)]
    assert [r.SerializeToString() for r in logs.requests] == [logs_request(records)]


@pytest.mark.parametrize("compression", [None, grpc.Compression.Gzip])
def test_grpc_exporters_deliver_metrics_and_logs_exactly_as_sent(signals, compression):
    receivers, metrics, logs = signals()
    data = sdk_metrics()
    records, _ = sdk_logs()
    metric_exporter = GrpcMetricExporter(endpoint=receivers.grpc_address, insecure=True, compression=compression)
    log_exporter = GrpcLogExporter(endpoint=receivers.grpc_address, insecure=True, compression=compression)

    assert metric_exporter.export(data) == MetricExportResult.SUCCESS
    assert log_exporter.export(records) == LogRecordExportResult.SUCCESS
    assert [r.SerializeToString() for r in metrics.requests] == [metrics_request(data)]
    assert [r.SerializeToString() for r in logs.requests] == [logs_request(records)]


# --- OTLP/JSON ---------------------------------------------------------------------------------

TRACE_ID, SPAN_ID = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"


def test_json_logs_with_hex_ids_are_decoded_and_answered_in_json(signals):
    receivers, _, logs = signals()
    document = {"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1764579600000000000", "traceId": TRACE_ID, "spanId": SPAN_ID,
         "eventName": "gen_ai.choice", "body": {"stringValue": "Hello!"}, "severityNumber": 9}]}]}]}

    response = post(receivers, "/v1/logs", json.dumps(document).encode(), JSON)

    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == {}
    [record] = logs.requests[0].resource_logs[0].scope_logs[0].log_records
    assert (record.trace_id.hex(), record.span_id.hex(), record.event_name) == (TRACE_ID, SPAN_ID, "gen_ai.choice")


def test_gzip_json_metrics_with_exemplar_ids(signals):
    receivers, metrics, _ = signals()
    point = {"timeUnixNano": "1764579600000000000", "asInt": "3",
             "exemplars": [{"timeUnixNano": "1764579600000000000", "asDouble": 1.5,
                            "traceId": TRACE_ID, "spanId": SPAN_ID}]}
    document = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "llm.requests", "sum": {"dataPoints": [point], "aggregationTemporality": 2, "isMonotonic": True}}]}]}]}

    response = post(receivers, "/v1/metrics", gzip.compress(json.dumps(document).encode()),
                    {**JSON, "Content-Encoding": "gzip"})

    assert response.status_code == 200
    [exemplar] = metrics.requests[0].resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0].exemplars
    assert (exemplar.trace_id.hex(), exemplar.span_id.hex()) == (TRACE_ID, SPAN_ID)


def test_json_with_a_base64_id_is_400_naming_the_field(signals):
    receivers, _, logs = signals()
    document = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "W47/95gDgQPSabYzgT/GDA=="}]}]}]}

    response = post(receivers, "/v1/logs", json.dumps(document).encode(), JSON)

    assert response.status_code == 400
    assert response.json()["details"][0]["fieldViolations"][0]["field"] == (
        "resourceLogs[0].scopeLogs[0].logRecords[0].traceId")
    assert logs.calls == 0


# --- bad input, limits, backpressure, auth ------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/logs"])
def test_undecodable_protobuf_is_400_with_a_status(signals, path):
    receivers, metrics, logs = signals()
    response = post(receivers, path, b"\x0a\xff\xff\xff", PROTOBUF)
    assert response.status_code == 400
    status = status_pb2.Status.FromString(response.content)
    assert status.code == 3 and "not a valid protobuf Export" in status.message
    assert metrics.calls == logs.calls == 0


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/logs"])
def test_other_content_types_are_415_and_gets_405(signals, path):
    receivers, _, _ = signals()
    assert post(receivers, path, b"x", {"Content-Type": "text/plain"}).status_code == 415
    assert httpx.get(receivers.http_url + path, timeout=30).status_code == 405


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/logs"])
def test_over_the_cap_as_sent_or_inflated_is_413(signals, path):
    receivers, metrics, logs = signals(max_request_bytes=64 * 1024)
    assert post(receivers, path, b"\x00" * (65 * 1024), PROTOBUF).status_code == 413
    bomb = gzip.compress(b"\x00" * (1024 * 1024))
    assert post(receivers, path, bomb, {**PROTOBUF, "Content-Encoding": "gzip"}).status_code == 413
    assert metrics.calls == logs.calls == 0


def test_an_empty_request_is_200_and_not_submitted(signals):
    receivers, metrics, logs = signals()
    assert post(receivers, "/v1/metrics", b"", PROTOBUF).status_code == 200
    assert post(receivers, "/v1/logs", ExportLogsServiceRequest().SerializeToString(), PROTOBUF).status_code == 200
    assert metrics.calls == logs.calls == 0


def test_rejected_items_are_a_200_partial_success_in_each_signals_field(signals):
    receivers, metrics, logs = signals()
    metrics.rejected_spans, metrics.error_message = 2, "metric 'x' (sum): time is missing"
    logs.rejected_spans, logs.error_message = 1, "log record 0: time is missing"

    answer = ExportMetricsServiceResponse.FromString(post(receivers, "/v1/metrics", metrics_request(), PROTOBUF).content)
    assert answer.partial_success.rejected_data_points == 2
    assert answer.partial_success.error_message == "metric 'x' (sum): time is missing"
    answer = ExportLogsServiceResponse.FromString(post(receivers, "/v1/logs", logs_request(), PROTOBUF).content)
    assert answer.partial_success.rejected_log_records == 1


def test_backpressure_is_503_with_retry_after_and_the_grpc_exporter_retries(signals):
    receivers, metrics, logs = signals()
    logs.refuse_next(1, retry_after=1)
    response = post(receivers, "/v1/logs", logs_request(), PROTOBUF)
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"

    metrics.refuse_next(1, retry_after=1)
    exporter = GrpcMetricExporter(endpoint=receivers.grpc_address, insecure=True)
    assert exporter.export(sdk_metrics()) == MetricExportResult.SUCCESS
    assert metrics.calls == 2 and len(metrics.requests) == 1


def _authenticate(headers):
    if headers.get("authorization") == "Bearer good":
        return Principal(key_id="k1", app="support-bot")
    raise PermissionError("invalid API key")


def test_a_bad_key_is_401_over_http_and_unauthenticated_over_grpc(signals):
    receivers, metrics, logs = signals(authenticate=_authenticate)
    assert post(receivers, "/v1/metrics", metrics_request(), {**PROTOBUF, "Authorization": "Bearer bad"}
                ).status_code == 401
    with grpc.insecure_channel(receivers.grpc_address) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")
        with pytest.raises(grpc.RpcError) as refused:
            export(logs_request(), timeout=30, metadata=(("authorization", "Bearer bad"),))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert metrics.calls == logs.calls == 0

    assert post(receivers, "/v1/logs", logs_request(), {**PROTOBUF, "Authorization": "Bearer good"}).status_code == 200
    assert logs.submitted[0][1] == Principal(key_id="k1", app="support-bot")


def test_undecodable_grpc_metrics_are_invalid_argument(signals):
    receivers, metrics, _ = signals()
    with grpc.insecure_channel(receivers.grpc_address) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")
        with pytest.raises(grpc.RpcError) as refused:
            export(b"\x0a\xff\xff\xff", timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert metrics.calls == 0
