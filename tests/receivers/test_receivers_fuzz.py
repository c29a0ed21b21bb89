"""Malformed bodies thrown at both receivers: every one is answered with a 4xx (or a gRPC
error code meaning bad data), never a 5xx or a crash, and none reaches the pipeline."""
from __future__ import annotations

import gzip
import json

import grpc
import httpx
import pytest
from receiver_harness import Receivers, RecordingPipeline, make_spans
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from receiver_payloads import otlp_json_bytes

VALID_PROTOBUF = encode_spans(make_spans(2)).SerializeToString()
VALID_JSON = otlp_json_bytes()

fuzz_settings = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def fuzz_receivers():
    # A small cap, so that some bodies also hit 413.
    receivers = Receivers(RecordingPipeline(), max_request_bytes=64 * 1024)
    receivers.start()
    yield receivers
    receivers.stop()


@pytest.fixture(scope="module")
def http(fuzz_receivers):
    with httpx.Client(base_url=fuzz_receivers.http_url, timeout=60) as client:
        yield client


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """`original` cut short, with bytes overwritten, inserted or deleted."""
    data = bytearray(original[: draw(st.integers(0, len(original)))])
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["overwrite", "insert", "delete"]))
        if action == "insert" or not data:
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "overwrite":
            data[min(position, len(data) - 1)] = draw(st.integers(0, 255))
        else:
            del data[min(position, len(data) - 1)]
    return bytes(data)


json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
    st.sampled_from(
        ["5B8EFFF798038103D269B633813FC60C", "eee19b7ec3c1b174", "W47/95gDgQPSabYzgT/GDA==", "-1", "1e3"]
    ),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)
otlp_keys = st.sampled_from([
    "traceId", "spanId", "parentSpanId", "trace_id", "name", "kind", "startTimeUnixNano", "endTimeUnixNano",
    "attributes", "key", "value", "intValue", "stringValue", "arrayValue", "kvlistValue", "values", "links",
    "events", "status", "code", "droppedAttributesCount", "resource", "scope", "schemaUrl",
])


@st.composite
def otlp_shaped_json(draw) -> bytes:
    """Documents with the OTLP nesting but values of any type where the fields go."""
    nested = st.lists(st.dictionaries(otlp_keys, json_value, max_size=4), max_size=2)
    fields = st.dictionaries(otlp_keys, json_value | nested, max_size=6)
    spans = draw(st.lists(fields, max_size=3))
    scope_spans = {"scope": draw(fields), "spans": spans}
    document = {"resourceSpans": [{"resource": draw(fields), "scopeSpans": [scope_spans]}]}
    return json.dumps(document).encode()


protobuf_bodies = st.one_of(st.binary(max_size=2048), mutated(VALID_PROTOBUF))
json_bodies = st.one_of(
    st.binary(max_size=512),
    st.text(max_size=512).map(str.encode),
    json_value.map(lambda value: json.dumps(value).encode()),
    otlp_shaped_json(),
    mutated(VALID_JSON),
)


def gzipped(bodies):
    """Gzip of bad bodies, and bad gzip of good ones."""
    return st.one_of(
        bodies.map(gzip.compress), mutated(gzip.compress(VALID_PROTOBUF)), mutated(gzip.compress(VALID_JSON))
    )


def check_http_answer(receivers, http, body: bytes, headers: dict) -> None:
    before = receivers.pipeline.calls
    response = http.post("/v1/traces", content=body, headers=headers)

    assert response.status_code in (200, 400, 413), response.text
    if response.status_code != 200:
        assert receivers.pipeline.calls == before, "a rejected body reached the pipeline"


@fuzz_settings
@given(body=protobuf_bodies)
def test_http_protobuf_fuzz(fuzz_receivers, http, body):
    check_http_answer(fuzz_receivers, http, body, {"Content-Type": "application/x-protobuf"})


@fuzz_settings
@given(body=json_bodies)
def test_http_json_fuzz(fuzz_receivers, http, body):
    check_http_answer(fuzz_receivers, http, body, {"Content-Type": "application/json"})


@fuzz_settings
@given(
    body=gzipped(st.one_of(protobuf_bodies, json_bodies)),
    media=st.sampled_from(["application/x-protobuf", "application/json"]),
)
def test_http_gzip_fuzz(fuzz_receivers, http, body, media):
    check_http_answer(fuzz_receivers, http, body, {"Content-Type": media, "Content-Encoding": "gzip"})


@pytest.fixture(scope="module")
def grpc_export(fuzz_receivers):
    with grpc.insecure_channel(fuzz_receivers.grpc_address) as channel:
        yield channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")


@fuzz_settings
@given(body=protobuf_bodies, compress=st.booleans())
def test_grpc_fuzz(fuzz_receivers, grpc_export, body, compress):
    before = fuzz_receivers.pipeline.calls
    try:
        grpc_export(body, timeout=60, compression=grpc.Compression.Gzip if compress else None)
    except grpc.RpcError as error:
        assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED), error
        assert fuzz_receivers.pipeline.calls == before, "a rejected body reached the pipeline"


def test_receivers_still_take_valid_data_after_the_fuzzing(fuzz_receivers, http, grpc_export):
    before = len(fuzz_receivers.pipeline.submitted)

    response = http.post("/v1/traces", content=VALID_PROTOBUF, headers={"Content-Type": "application/x-protobuf"})
    assert response.status_code == 200
    grpc_export(VALID_PROTOBUF, timeout=60)

    assert len(fuzz_receivers.pipeline.submitted) == before + 2
