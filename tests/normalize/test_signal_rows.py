"""Metric points and log records as the Collector ClickHouse exporter writes them, and the
records that are refused because storing them would mislead."""
from __future__ import annotations

import pickle
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from llmledger.processor.exporters.clickhouse import TABLE_COLUMNS, tables_before
from llmledger.processor.normalize.log_rows import OTEL_LOGS_COLUMNS, log_rows
from llmledger.processor.normalize.metric_rows import METRIC_TABLES, metric_rows
from llmledger.processor.wal import decode_rows, encode_rows

NOW = time.time_ns()
NOW_S = NOW // 1_000_000_000


def _metrics():
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add(schema_url="https://opentelemetry.io/schemas/1.30.0")
    resource.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="bot")))
    return request, resource.scope_metrics.add()


def _row(converted, table):
    [row] = converted.tables[table]
    return dict(zip(METRIC_TABLES[next(k for k, (t, _) in METRIC_TABLES.items() if t == table)][1], row))


def test_an_int_point_is_a_double_and_an_absent_exemplar_id_is_zeros():
    request, scope = _metrics()
    metric = scope.metrics.add(name="llm.requests", unit="{request}")
    metric.sum.aggregation_temporality, metric.sum.is_monotonic = 2, True
    point = metric.sum.data_points.add(time_unix_nano=NOW, as_int=3)
    point.exemplars.add(time_unix_nano=NOW, as_double=1.5, span_id=bytes.fromhex("eee19b7ec3c1b174"))

    row = _row(metric_rows(request, now_ns=NOW), "otel_metrics_sum")

    assert (row["Value"], row["TimeUnix"], row["StartTimeUnix"], row["ServiceName"]) == (3.0, NOW_S, 0, "bot")
    assert row["ResourceSchemaUrl"] == "https://opentelemetry.io/schemas/1.30.0"
    assert (row["AggregationTemporality"], row["IsMonotonic"]) == (2, True)
    assert row["Exemplars.SpanId"] == ["eee19b7ec3c1b174"] and row["Exemplars.TraceId"] == ["0" * 32]
    assert row["Exemplars.Value"] == [1.5] and row["Exemplars.TimeUnix"] == [NOW_S]


def test_a_histogram_without_min_max_has_zeros_and_a_summary_its_quantiles():
    request, scope = _metrics()
    histogram = scope.metrics.add(name="latency").histogram
    histogram.data_points.add(time_unix_nano=NOW, count=2, bucket_counts=[1, 1], explicit_bounds=[1.0])
    summary = scope.metrics.add(name="queue").summary.data_points.add(time_unix_nano=NOW, count=4, sum=10.0)
    summary.quantile_values.add(quantile=0.5, value=2.0)
    summary.quantile_values.add(quantile=0.99, value=4.0)

    converted = metric_rows(request, now_ns=NOW)

    row = _row(converted, "otel_metrics_histogram")
    assert (row["Count"], row["Sum"], row["Min"], row["Max"], row["BucketCounts"]) == (2, 0.0, 0.0, 0.0, [1, 1])
    row = _row(converted, "otel_metrics_summary")
    assert (row["ValueAtQuantiles.Quantile"], row["ValueAtQuantiles.Value"]) == ([0.5, 0.99], [2.0, 4.0])


def test_points_with_no_usable_time_or_broken_buckets_are_rejected_and_the_rest_kept():
    request, scope = _metrics()
    gauge = scope.metrics.add(name="depth").gauge
    gauge.data_points.add(time_unix_nano=NOW, as_int=1)
    gauge.data_points.add(as_int=2)  # no time
    gauge.data_points.add(time_unix_nano=NOW + 2 * 86_400 * 10**9, as_int=3)  # two days ahead
    scope.metrics.add(name="latency").histogram.data_points.add(
        time_unix_nano=NOW, count=1, bucket_counts=[1, 0, 0], explicit_bounds=[1.0])

    converted = metric_rows(request, now_ns=NOW)

    assert (converted.accepted, converted.rejected) == (1, 3)
    assert converted.errors == [
        "metric 'depth' (gauge): time is missing",
        "metric 'depth' (gauge): time is more than a day in the future",
        "metric 'latency' (histogram): 3 bucket counts for 1 bounds (there must be one more count than bounds)",
    ]


def test_a_start_or_exemplar_time_the_columns_cannot_hold_rejects_its_point_and_the_rest_go_in(clickhouse):
    from llmledger.processor.exporters.clickhouse import ClickHouseWriter

    request, scope = _metrics()
    latency = scope.metrics.add(name="latency").histogram
    latency.data_points.add(start_time_unix_nano=NOW - 10**9, time_unix_nano=NOW, count=1, bucket_counts=[1])
    latency.data_points.add(start_time_unix_nano=2**63, time_unix_nano=NOW, count=1, bucket_counts=[1])
    latency.data_points.add(time_unix_nano=NOW, count=1, bucket_counts=[1]).exemplars.add(
        time_unix_nano=2**64 - 1, as_double=0.5)

    converted = metric_rows(request, now_ns=NOW)

    assert (converted.accepted, converted.rejected) == (1, 2)
    assert converted.errors == ["metric 'latency' (histogram): start time is after the point's time",
                                "metric 'latency' (histogram): exemplar time is more than a day in the future"]
    ClickHouseWriter(clickhouse).write_tables(converted.tables, token="start-times")
    assert clickhouse.query("SELECT count() FROM otel_metrics_histogram").result_rows == [(1,)]


def test_a_log_record_without_a_time_takes_its_observed_time():
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    scope.log_records.add(observed_time_unix_nano=NOW, flags=0x101, severity_number=17,
                          body=AnyValue(int_value=42), event_name="gen_ai.choice")

    [row] = log_rows(request, now_ns=NOW).tables["otel_logs"]
    row = dict(zip(OTEL_LOGS_COLUMNS, row))

    assert (row["Timestamp"], row["TraceFlags"], row["SeverityNumber"], row["Body"]) == (NOW, 1, 17, "42")
    assert (row["TraceId"], row["SpanId"], row["EventName"]) == ("", "", "gen_ai.choice")


def test_log_records_of_the_version_before_metrics_and_logs_are_still_replayed():
    # Format 1: (1, otel_traces rows, llm_spans rows), as the previous version logged them.
    old = pickle.dumps((1, [["trace row"]], []))
    assert decode_rows(old) == {"otel_traces": [["trace row"]], "llm_spans": []}
    assert decode_rows(encode_rows({"otel_logs": [["log row"]]})) == {"otel_logs": [["log row"]]}


def test_a_batch_writes_spans_before_calls_and_every_signals_table_is_known():
    assert list(TABLE_COLUMNS)[:2] == ["otel_traces", "llm_spans"]
    assert tables_before("llm_spans") == {"otel_traces"}
    assert {"otel_logs", "otel_metrics_sum", "otel_metrics_gauge", "otel_metrics_histogram",
            "otel_metrics_exponential_histogram", "otel_metrics_summary"} <= set(TABLE_COLUMNS)


def test_rows_of_every_metric_kind_and_of_logs_go_into_their_tables(clickhouse):
    from llmledger.processor.exporters.clickhouse import ClickHouseWriter
    from signal_traffic import logs_request, metrics_request

    request, scope = _metrics()
    scope.metrics.add(name="queue").summary.data_points.add(time_unix_nano=NOW, count=4, sum=10.0)
    sdk = ExportMetricsServiceRequest.FromString(metrics_request())  # sum, gauge, histogram, exponential
    request.resource_metrics.extend(sdk.resource_metrics)
    tables = metric_rows(request, now_ns=NOW).tables
    tables.update(log_rows(ExportLogsServiceRequest.FromString(logs_request()), now_ns=NOW).tables)

    ClickHouseWriter(clickhouse).write_tables(tables, token="every-table")

    for table, rows in tables.items():
        assert clickhouse.query(f"SELECT count() FROM {table}").result_rows == [(len(rows),)], table
    assert len(tables) == 6


def test_a_key_bound_to_an_app_alone_stamps_its_app_and_drops_a_claimed_tenant():
    from llmledger.processor.pipeline import Principal

    request, scope = _metrics()
    request.resource_metrics[0].resource.attributes.append(
        KeyValue(key="llmledger.tenant", value=AnyValue(string_value="someone-else")))
    metric = scope.metrics.add(name="llm.requests")
    metric.sum.aggregation_temporality, metric.sum.is_monotonic = 2, True
    metric.sum.data_points.add(time_unix_nano=NOW, as_int=1)

    bound = _row(metric_rows(request, now_ns=NOW, principal=Principal("k1", app="billing")), "otel_metrics_sum")
    assert bound["ResourceAttributes"] == {"service.name": "bot", "llmledger.app": "billing"}
    unbound = _row(metric_rows(request, now_ns=NOW, principal=Principal("k2")), "otel_metrics_sum")
    assert unbound["ResourceAttributes"] == {"service.name": "bot", "llmledger.tenant": "someone-else"}
