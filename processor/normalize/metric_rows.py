"""Metric data points as rows of the OpenTelemetry Collector ClickHouse exporter's metric
tables, one table per metric type (`otel_metrics_sum`, `_gauge`, `_histogram`,
`_exponential_histogram`, `_summary`).

Values are the ones the exporter writes: times in whole seconds (its columns are
DateTime), a number point's value as a double whatever its type, absent histogram
min/max/sum as 0, exemplars as the parallel arrays of their Nested column with their
ids hex-encoded as fixed-size arrays (so an absent id is all zeros), attributes as text.
A histogram whose bucket counts do not fit its bounds is rejected: no query could read it.
"""
from __future__ import annotations

from .conventions import SERVICE_NAME_KEY
from .signal_rows import Converted, stamp_binding, time_problem
from .values import attributes_text

_COMMON = (
    "ResourceAttributes", "ResourceSchemaUrl", "ScopeName", "ScopeVersion", "ScopeAttributes",
    "ScopeDroppedAttrCount", "ScopeSchemaUrl", "ServiceName", "MetricName", "MetricDescription", "MetricUnit",
    "Attributes", "StartTimeUnix", "TimeUnix",
)  # fmt: skip
_EXEMPLARS = ("Exemplars.FilteredAttributes", "Exemplars.TimeUnix", "Exemplars.Value", "Exemplars.SpanId",
              "Exemplars.TraceId")

# The metric's `data` oneof -> its table and the columns after the common ones.
METRIC_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "gauge": ("otel_metrics_gauge", (*_COMMON, "Value", "Flags", *_EXEMPLARS)),
    "sum": ("otel_metrics_sum", (*_COMMON, "Value", "Flags", *_EXEMPLARS, "AggregationTemporality", "IsMonotonic")),
    "histogram": ("otel_metrics_histogram", (
        *_COMMON, "Count", "Sum", "BucketCounts", "ExplicitBounds", *_EXEMPLARS, "Flags", "Min", "Max",
        "AggregationTemporality")),
    "exponential_histogram": ("otel_metrics_exponential_histogram", (
        *_COMMON, "Count", "Sum", "Scale", "ZeroCount", "PositiveOffset", "PositiveBucketCounts", "NegativeOffset",
        "NegativeBucketCounts", *_EXEMPLARS, "Flags", "Min", "Max", "AggregationTemporality")),
    "summary": ("otel_metrics_summary", (
        *_COMMON, "Count", "Sum", "ValueAtQuantiles.Quantile", "ValueAtQuantiles.Value", "Flags")),
}  # fmt: skip

_NS = 1_000_000_000


def metric_rows(request, *, now_ns: int, principal=None) -> Converted:
    """Convert an `ExportMetricsServiceRequest` (sent by `principal`, when auth is on)."""
    result = Converted()
    for resource_metrics in request.resource_metrics:
        resource_attributes = stamp_binding(attributes_text(resource_metrics.resource.attributes), principal,
                                            resource=True)
        service_name = resource_attributes.get(SERVICE_NAME_KEY, "")
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            scope_attributes = attributes_text(scope.attributes)
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue  # no data: nothing to store
                table = METRIC_TABLES[kind][0]
                data = getattr(metric, kind)
                for point in data.data_points:
                    problem = (time_problem(point.time_unix_nano, now_ns) or _start_problem(point)
                               or _exemplar_problem(point, now_ns) or _shape_problem(kind, point))
                    if problem:
                        result.reject(f"metric {metric.name!r} ({kind})", problem)
                        continue
                    row = [
                        resource_attributes, resource_metrics.schema_url, scope.name, scope.version,
                        scope_attributes, scope.dropped_attributes_count, scope_metrics.schema_url, service_name,
                        metric.name, metric.description, metric.unit,
                        stamp_binding(attributes_text(point.attributes), principal, resource=False),
                        point.start_time_unix_nano // _NS, point.time_unix_nano // _NS,
                    ]  # fmt: skip
                    row += _VALUES[kind](point, data)
                    result.add(table, row)
    return result


def _start_problem(point) -> str | None:
    # Optional (0 for a gauge), but never after the point's own time: the column holds both.
    if point.start_time_unix_nano > point.time_unix_nano:
        return "start time is after the point's time"
    return None


def _exemplar_problem(point, now_ns: int) -> str | None:
    for exemplar in getattr(point, "exemplars", ()):  # a summary point has none
        if exemplar.time_unix_nano and (problem := time_problem(exemplar.time_unix_nano, now_ns)):
            return f"exemplar {problem}"
    return None


def _shape_problem(kind: str, point) -> str | None:
    if kind == "histogram" and point.bucket_counts and len(point.bucket_counts) != len(point.explicit_bounds) + 1:
        return (f"{len(point.bucket_counts)} bucket counts for {len(point.explicit_bounds)} bounds "
                "(there must be one more count than bounds)")
    return None


def _number(holder) -> float:
    """A number point's or exemplar's value as a double (0 when it has none)."""
    kind = holder.WhichOneof("value")
    if kind == "as_double":
        return holder.as_double
    if kind == "as_int":
        return float(holder.as_int)
    return 0.0


def _exemplars(point) -> list:
    exemplars = point.exemplars
    return [
        [attributes_text(e.filtered_attributes) for e in exemplars],
        [e.time_unix_nano // _NS for e in exemplars],
        [_number(e) for e in exemplars],
        [(e.span_id or bytes(8)).hex() for e in exemplars],
        [(e.trace_id or bytes(16)).hex() for e in exemplars],
    ]


def _optional(point, name: str) -> float:
    return getattr(point, name) if point.HasField(name) else 0.0


def _gauge(point, data) -> list:
    return [_number(point), point.flags, *_exemplars(point)]


def _sum(point, data) -> list:
    return [_number(point), point.flags, *_exemplars(point), data.aggregation_temporality, data.is_monotonic]


def _histogram(point, data) -> list:
    return [
        point.count, _optional(point, "sum"), list(point.bucket_counts), list(point.explicit_bounds),
        *_exemplars(point), point.flags, _optional(point, "min"), _optional(point, "max"),
        data.aggregation_temporality,
    ]


def _exponential_histogram(point, data) -> list:
    return [
        point.count, _optional(point, "sum"), point.scale, point.zero_count, point.positive.offset,
        list(point.positive.bucket_counts), point.negative.offset, list(point.negative.bucket_counts),
        *_exemplars(point), point.flags, _optional(point, "min"), _optional(point, "max"),
        data.aggregation_temporality,
    ]


def _summary(point, data) -> list:
    quantiles = point.quantile_values
    return [point.count, point.sum, [q.quantile for q in quantiles], [q.value for q in quantiles], point.flags]


_VALUES = {"gauge": _gauge, "sum": _sum, "histogram": _histogram,
           "exponential_histogram": _exponential_histogram, "summary": _summary}
