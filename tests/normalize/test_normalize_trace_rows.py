"""Every accepted span becomes an otel_traces row that reads as the Collector's ClickHouse
exporter would have written it, and that the project's otel_traces table accepts."""
from __future__ import annotations

import math
import uuid

import pytest
from normalize_spans import SpanRecorder, normalize, raw_request, raw_span
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from llmledger.processor.normalize import OTEL_TRACES_COLUMNS, SPAN_ATTRIBUTES_INDEX

# The column list of the exporter's insert statement (internal/sqltemplates/traces_insert.sql).
EXPORTER_INSERT_COLUMNS = [
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
    "ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "Duration",
    "StatusCode", "StatusMessage", "Events.Timestamp", "Events.Name", "Events.Attributes",
    "Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes",
]


def as_dict(row: list) -> dict:
    return dict(zip(OTEL_TRACES_COLUMNS, row))


def test_columns_are_the_exporters():
    assert list(OTEL_TRACES_COLUMNS) == EXPORTER_INSERT_COLUMNS
    assert OTEL_TRACES_COLUMNS[SPAN_ATTRIBUTES_INDEX] == "SpanAttributes"


def recorded_parent_and_child():
    """A server span with a client child that has an event, a link and an error status."""
    recorder = SpanRecorder({"deployment.environment.name": "prod"}, scope="my.scope", scope_version="4.5.6")
    tracer = recorder.tracer
    linked = tracer.start_span("linked")
    linked.end()
    with tracer.start_as_current_span("handle request", kind=SpanKind.SERVER) as parent:
        child = tracer.start_span(
            "chat gpt-4o-mini",
            kind=SpanKind.CLIENT,
            links=[Link(linked.get_span_context(), {"link.reason": "retry-of"})],
            attributes={
                "text": "hello",
                "count": 42,
                "negative": -7,
                "flag": True,
                "off": False,
                "ratio": 0.5,
                "whole": 2.0,
                "finish_reasons": ("stop", "length"),
                "ints": (1, 2),
                "floats": (0.5, 1.0),
                "bools": (True, False),
                "markup": ("a<b", "c&d"),
            },
        )
        child.add_event("gen_ai.choice", {"index": 0, "score": 0.25})
        child.set_status(Status(StatusCode.ERROR, "rate limited"))
        child.end()
    request = recorder.request()
    sdk_spans = {span.name: span for span in request.resource_spans[0].scope_spans[0].spans}
    result = normalize(request)
    rows = {row[OTEL_TRACES_COLUMNS.index("SpanName")]: as_dict(row) for row in result.trace_rows}
    return rows, sdk_spans, linked, parent


def test_ids_times_kind_status_scope_and_service():
    rows, sdk_spans, _, parent = recorded_parent_and_child()
    child = rows["chat gpt-4o-mini"]
    proto = sdk_spans["chat gpt-4o-mini"]
    assert child["TraceId"] == format(parent.get_span_context().trace_id, "032x")
    assert child["SpanId"] == proto.span_id.hex() and child["SpanId"].islower() and len(child["SpanId"]) == 16
    assert child["ParentSpanId"] == format(parent.get_span_context().span_id, "016x")
    assert rows["handle request"]["ParentSpanId"] == ""  # a root span
    assert child["Timestamp"] == proto.start_time_unix_nano  # int nanoseconds, not rounded
    assert child["Duration"] == proto.end_time_unix_nano - proto.start_time_unix_nano
    assert child["SpanKind"] == "Client" and rows["handle request"]["SpanKind"] == "Server"
    assert child["StatusCode"] == "Error" and child["StatusMessage"] == "rate limited"
    assert rows["handle request"]["StatusCode"] == "Unset"
    assert child["ServiceName"] == "support-bot"
    assert child["ResourceAttributes"]["deployment.environment.name"] == "prod"
    assert child["ResourceAttributes"]["telemetry.sdk.name"] == "opentelemetry"
    assert (child["ScopeName"], child["ScopeVersion"]) == ("my.scope", "4.5.6")
    assert child["TraceState"] == ""


def test_attribute_values_are_stringified_like_the_exporter():
    rows, _, _, _ = recorded_parent_and_child()
    attributes = rows["chat gpt-4o-mini"]["SpanAttributes"]
    assert attributes == {
        "text": "hello",
        "count": "42",
        "negative": "-7",
        "flag": "true",
        "off": "false",
        "ratio": "0.5",
        "whole": "2",  # Go writes 2.0 as 2
        "finish_reasons": '["stop","length"]',
        "ints": "[1,2]",
        "floats": "[0.5,1]",
        "bools": "[true,false]",
        "markup": '["a\\u003cb","c\\u0026d"]',  # Go's JSON encoder escapes HTML characters
    }


def test_events_and_links_are_parallel_arrays():
    rows, sdk_spans, linked, _ = recorded_parent_and_child()
    child = rows["chat gpt-4o-mini"]
    proto = sdk_spans["chat gpt-4o-mini"]
    assert child["Events.Name"] == ["gen_ai.choice"]
    assert child["Events.Timestamp"] == [proto.events[0].time_unix_nano]
    assert child["Events.Attributes"] == [{"index": "0", "score": "0.25"}]
    assert child["Links.TraceId"] == [format(linked.get_span_context().trace_id, "032x")]
    assert child["Links.SpanId"] == [format(linked.get_span_context().span_id, "016x")]
    assert child["Links.TraceState"] == [""]
    assert child["Links.Attributes"] == [{"link.reason": "retry-of"}]
    parent = rows["handle request"]
    assert [parent[column] for column in OTEL_TRACES_COLUMNS[15:]] == [[], [], [], [], [], [], []]


@pytest.mark.parametrize(
    "kind, name",
    [(SpanKind.INTERNAL, "Internal"), (SpanKind.SERVER, "Server"), (SpanKind.CLIENT, "Client"),
     (SpanKind.PRODUCER, "Producer"), (SpanKind.CONSUMER, "Consumer")],
)
def test_span_kind_names(kind, name):
    recorder = SpanRecorder()
    recorder.span("s", {}, kind=kind)
    assert as_dict(normalize(recorder.request()).trace_rows[0])["SpanKind"] == name


def test_unspecified_kind_and_ok_status():
    span = raw_span(kind=0)
    span.status.code = 1
    row = as_dict(normalize(raw_request(span)).trace_rows[0])
    assert (row["SpanKind"], row["StatusCode"]) == ("Unspecified", "Ok")


# Doubles as Go's pdata AsString writes them: shortest digits, plain notation for
# 1e-6 <= |x| < 1e21, otherwise exponent notation with "e-7" rather than "e-07".
@pytest.mark.parametrize(
    "number, text",
    [
        (0.5, "0.5"),
        (2.0, "2"),
        (0.0, "0"),
        (-0.0, "-0"),
        (123456.789, "123456.789"),
        (0.1, "0.1"),
        (1e-6, "0.000001"),
        (1.25e-5, "0.0000125"),
        (1e16, "10000000000000000"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (1e-7, "1e-7"),
        (-2.5e-10, "-2.5e-10"),
        (1e-100, "1e-100"),
        (math.inf, "json: unsupported value: +Inf"),
        (-math.inf, "json: unsupported value: -Inf"),
        (math.nan, "json: unsupported value: NaN"),
    ],
)
def test_double_formatting(number, text):
    span = raw_span(attributes=[KeyValue(key="x", value=AnyValue(double_value=number))])
    assert as_dict(normalize(raw_request(span)).trace_rows[0])["SpanAttributes"]["x"] == text


def kv_list(*pairs) -> AnyValue:
    value = AnyValue()
    value.kvlist_value.SetInParent()
    for key, item in pairs:
        value.kvlist_value.values.add(key=key).value.CopyFrom(item)
    return value


def array(*items) -> AnyValue:
    value = AnyValue()
    value.array_value.SetInParent()  # an empty array is still an array
    for item in items:
        value.array_value.values.add().CopyFrom(item)
    return value


@pytest.mark.parametrize(
    "value, text",
    [
        (AnyValue(), ""),  # no value at all
        (AnyValue(string_value=""), ""),
        (AnyValue(int_value=0), "0"),
        (AnyValue(bytes_value=b"\x00\x01\xff"), "AAH/"),  # base64
        # A map: keys sorted, the last duplicate wins, values typed.
        (kv_list(("b", AnyValue(int_value=1)), ("a", AnyValue(string_value="x")), ("b", AnyValue(bool_value=False))),
         '{"a":"x","b":false}'),
        (array(AnyValue(double_value=1.0), AnyValue(), kv_list(("k", AnyValue(double_value=1e-7)))),
         '[1,null,{"k":1e-7}]'),
        (array(AnyValue(bytes_value=b"hi")), '["aGk="]'),
        (array(AnyValue(string_value='say "hi"\n\u2028>')), '["say \\"hi\\"\\n\\u2028\\u003e"]'),
        (array(AnyValue(double_value=math.nan)), ""),  # Go's JSON encoder refuses NaN
        (array(), "[]"),
        (kv_list(), "{}"),
    ],
)
def test_other_value_kinds(value, text):
    span = raw_span(attributes=[KeyValue(key="x", value=value)])
    assert as_dict(normalize(raw_request(span)).trace_rows[0])["SpanAttributes"]["x"] == text


def test_last_duplicate_attribute_wins():
    span = raw_span(attributes=[KeyValue(key="k", value=AnyValue(string_value="first")),
                                KeyValue(key="k", value=AnyValue(int_value=2))])
    assert as_dict(normalize(raw_request(span)).trace_rows[0])["SpanAttributes"] == {"k": "2"}


def test_all_zero_link_ids_are_empty_strings():
    span = raw_span()
    span.links.add(trace_id=bytes(16), span_id=bytes(8), trace_state="k=v")
    row = as_dict(normalize(raw_request(span)).trace_rows[0])
    assert (row["Links.TraceId"], row["Links.SpanId"], row["Links.TraceState"]) == ([""], [""], ["k=v"])


def test_all_zero_parent_span_id_means_root():
    row = as_dict(normalize(raw_request(raw_span(parent_span_id=bytes(8)))).trace_rows[0])
    assert row["ParentSpanId"] == ""


def test_no_service_name_gives_empty_service():
    request = raw_request(raw_span())
    del request.resource_spans[0].resource.attributes[:]
    row = as_dict(normalize(request).trace_rows[0])
    assert (row["ServiceName"], row["ResourceAttributes"]) == ("", {})


# The Collector exporter's otel_traces table (internal/sqltemplates/traces_table.sql),
# without its codecs and skip indexes, which do not change what a row holds.
EXPORTER_TRACES_TABLE = """
CREATE TABLE otel_traces (
    Timestamp DateTime64(9),
    TraceId String,
    SpanId String,
    ParentSpanId String,
    TraceState String,
    SpanName LowCardinality(String),
    SpanKind LowCardinality(String),
    ServiceName LowCardinality(String),
    ResourceAttributes Map(LowCardinality(String), String),
    ScopeName String,
    ScopeVersion String,
    SpanAttributes Map(LowCardinality(String), String),
    Duration UInt64,
    StatusCode LowCardinality(String),
    StatusMessage String,
    Events Nested (
        Timestamp DateTime64(9), Name LowCardinality(String), Attributes Map(LowCardinality(String), String)
    ),
    Links Nested (TraceId String, SpanId String, TraceState String, Attributes Map(LowCardinality(String), String))
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
"""


@pytest.fixture
def exporter_table(chdb_dir):
    """A database of its own on the test session's embedded chDB store, holding the exporter's table."""
    from llmledger.processor.storage.client import connect

    client = connect(data_dir=chdb_dir, database=f"normalize_{uuid.uuid4().hex[:12]}")
    client.command(EXPORTER_TRACES_TABLE)
    yield client
    client.command(f"DROP DATABASE IF EXISTS {client.database}")


def test_rows_insert_into_the_exporters_table(exporter_table):
    """The rows go into the exporter's otel_traces table (real ClickHouse, embedded) and read back intact."""
    clickhouse = exporter_table
    rows, sdk_spans, linked, _ = recorded_parent_and_child()
    proto = sdk_spans["chat gpt-4o-mini"]
    clickhouse.insert("otel_traces", [[row[c] for c in OTEL_TRACES_COLUMNS] for row in rows.values()],
                      column_names=list(OTEL_TRACES_COLUMNS))
    result = clickhouse.query(
        "SELECT toUnixTimestamp64Nano(Timestamp), TraceId, ParentSpanId, SpanKind, Duration, StatusCode,"
        " SpanAttributes['finish_reasons'], ResourceAttributes['service.name'], ScopeVersion,"
        " Events.Name, arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp), Events.Attributes,"
        " Links.SpanId, Links.Attributes"
        " FROM otel_traces WHERE SpanName = 'chat gpt-4o-mini'"
    ).result_rows
    assert result == [(
        proto.start_time_unix_nano,
        proto.trace_id.hex(),
        proto.parent_span_id.hex(),
        "Client",
        proto.end_time_unix_nano - proto.start_time_unix_nano,
        "Error",
        '["stop","length"]',
        "support-bot",
        "4.5.6",
        ["gen_ai.choice"],
        [proto.events[0].time_unix_nano],
        [{"index": "0", "score": "0.25"}],
        [format(linked.get_span_context().span_id, "016x")],
        [{"link.reason": "retry-of"}],
    )]
    assert clickhouse.query("SELECT count() FROM otel_traces").result_rows == [(3,)]  # linked, parent, child
