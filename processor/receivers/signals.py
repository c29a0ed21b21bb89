"""The three OTLP signals as the receivers see them: traces, metrics and logs.

Everything that differs between them on the wire is here — the request, response and
partial-success messages, the HTTP path, the gRPC service, which field counts the
rejected items, how to count a request's items, and where OTLP/JSON puts hex ids — so
that one HTTP endpoint and one gRPC servicer serve all three the same way (limits, auth,
status codes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as traces


@dataclass(frozen=True)
class Signal:
    name: str  # "traces", "metrics", "logs"
    http_path: str
    grpc_service: str
    request_type: type
    response_type: type
    partial_success_type: type
    rejected_field: str  # the partial-success field that counts rejected items
    count: Callable[[object], int]  # items in a decoded request
    # Each id-bearing object of an OTLP/JSON document, with the JSON path that names it
    # in an error and the id fields it may hold.
    json_id_holders: Callable[[dict], Iterator[tuple[str, dict, tuple[str, ...]]]]


def _items(parent, *keys):
    """(index, dict) for each object in the list that `parent` holds under any of `keys`
    (the OTLP/JSON lowerCamelCase name or the proto field name)."""
    if not isinstance(parent, dict):
        return
    for key in keys:
        children = parent.get(key)
        if isinstance(children, list):
            for index, child in enumerate(children):
                if isinstance(child, dict):
                    yield index, child


_SPAN_IDS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")
_TRACE_AND_SPAN = ("traceId", "trace_id", "spanId", "span_id")


def _span_ids(document: dict):
    for r, resource_spans in _items(document, "resourceSpans", "resource_spans"):
        for s, scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for i, span in _items(scope_spans, "spans"):
                path = f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]"
                yield path, span, _SPAN_IDS
                for k, link in _items(span, "links"):
                    yield f"{path}.links[{k}]", link, _TRACE_AND_SPAN


# Metric kinds whose data points carry exemplars (a summary has none).
_EXEMPLAR_KINDS = (("sum", "sum"), ("gauge", "gauge"), ("histogram", "histogram"),
                   ("exponentialHistogram", "exponential_histogram"))


def _exemplar_ids(document: dict):
    for r, resource_metrics in _items(document, "resourceMetrics", "resource_metrics"):
        for s, scope_metrics in _items(resource_metrics, "scopeMetrics", "scope_metrics"):
            for m, metric in _items(scope_metrics, "metrics"):
                for json_kind, proto_kind in _EXEMPLAR_KINDS:
                    data = metric.get(json_kind, metric.get(proto_kind))
                    for p, point in _items(data, "dataPoints", "data_points"):
                        for e, exemplar in _items(point, "exemplars"):
                            path = (f"resourceMetrics[{r}].scopeMetrics[{s}].metrics[{m}].{json_kind}"
                                    f".dataPoints[{p}].exemplars[{e}]")
                            yield path, exemplar, _TRACE_AND_SPAN


def _log_ids(document: dict):
    for r, resource_logs in _items(document, "resourceLogs", "resource_logs"):
        for s, scope_logs in _items(resource_logs, "scopeLogs", "scope_logs"):
            for i, record in _items(scope_logs, "logRecords", "log_records"):
                yield f"resourceLogs[{r}].scopeLogs[{s}].logRecords[{i}]", record, _TRACE_AND_SPAN


def _span_count(request) -> int:
    return sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)


def _point_count(request) -> int:
    total = 0
    for resource in request.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    total += len(getattr(metric, kind).data_points)
    return total


def _log_count(request) -> int:
    return sum(len(scope.log_records) for resource in request.resource_logs for scope in resource.scope_logs)


TRACES = Signal(
    "traces", "/v1/traces", "opentelemetry.proto.collector.trace.v1.TraceService",
    traces.ExportTraceServiceRequest, traces.ExportTraceServiceResponse, traces.ExportTracePartialSuccess,
    "rejected_spans", _span_count, _span_ids,
)
METRICS = Signal(
    "metrics", "/v1/metrics", "opentelemetry.proto.collector.metrics.v1.MetricsService",
    metrics.ExportMetricsServiceRequest, metrics.ExportMetricsServiceResponse,
    metrics.ExportMetricsPartialSuccess, "rejected_data_points", _point_count, _exemplar_ids,
)
LOGS = Signal(
    "logs", "/v1/logs", "opentelemetry.proto.collector.logs.v1.LogsService",
    logs.ExportLogsServiceRequest, logs.ExportLogsServiceResponse, logs.ExportLogsPartialSuccess,
    "rejected_log_records", _log_count, _log_ids,
)
