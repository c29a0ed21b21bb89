"""The OTLP/HTTP receiver on a real uvicorn server, fed by the OTel SDK's own exporter and
by hand-made requests for what the exporter never sends."""
from __future__ import annotations

import gzip
import json
import socket

import httpx
import pytest
from receiver_harness import make_spans
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult
from receiver_payloads import expected_request, gzip_of_zeros, otlp_json_bytes, otlp_json_document

from llmledger.processor.pipeline import Principal

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
MiB = 1024 * 1024


def exporter_for(receivers, **options) -> OTLPSpanExporter:
    return OTLPSpanExporter(endpoint=f"{receivers.http_url}/v1/traces", **options)


def post(receivers, body: bytes, headers: dict, method: str = "POST") -> httpx.Response:
    with httpx.Client(timeout=60) as client:
        return client.request(method, f"{receivers.http_url}/v1/traces", content=body, headers=headers)


def status_of(response: httpx.Response) -> status_pb2.Status:
    """The google.rpc.Status error body, in whichever encoding the response declares."""
    status = status_pb2.Status()
    if response.headers["content-type"] == "application/x-protobuf":
        status.ParseFromString(response.content)
    else:
        assert response.headers["content-type"] == "application/json"
        from google.protobuf import json_format

        json_format.Parse(response.text, status)
    return status


def bad_request_of(status: status_pb2.Status) -> error_details_pb2.BadRequest:
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    return bad_request


# --- what the SDK exporter sends ---------------------------------------------------------


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip, Compression.Deflate])
def test_sdk_exporter_spans_arrive_exactly_as_sent(receivers, pipeline, compression):
    spans = make_spans(3)

    result = exporter_for(receivers, compression=compression).export(spans)

    assert result == SpanExportResult.SUCCESS
    assert pipeline.requests == [encode_spans(spans)]
    assert pipeline.submitted[0][1] is None  # no authentication configured


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_large_export_is_decoded_whole(receivers, pipeline, compression):
    # Over PROTOBUF_THREAD_BYTES once inflated: parsed on a worker thread.
    spans = make_spans(5, padding=1_000_000)

    assert exporter_for(receivers, compression=compression).export(spans) == SpanExportResult.SUCCESS
    assert pipeline.requests == [encode_spans(spans)]


def test_response_is_an_empty_export_response_in_protobuf(receivers):
    response = post(receivers, encode_spans(make_spans(1)).SerializeToString(), PROTOBUF)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()


# --- OTLP/JSON ---------------------------------------------------------------------------


def test_json_request_is_decoded_and_answered_in_json(receivers, pipeline):
    response = post(receivers, otlp_json_bytes(), {"Content-Type": "application/json; charset=utf-8"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    assert pipeline.requests == [expected_request()]


def test_large_json_request_is_decoded_whole(receivers, pipeline):
    # Over JSON_THREAD_BYTES: parsed on a worker thread.
    document = otlp_json_document()
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"].append({"key": "padding", "value": {"stringValue": "p" * 100_000}})
    expected = expected_request()
    padding = expected.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="padding")
    padding.value.string_value = "p" * 100_000

    response = post(receivers, json.dumps(document).encode(), JSON)

    assert response.status_code == 200
    assert pipeline.requests == [expected]


def test_gzip_json_request(receivers, pipeline):
    response = post(receivers, gzip.compress(otlp_json_bytes()), {**JSON, "Content-Encoding": "gzip"})

    assert response.status_code == 200
    assert pipeline.requests == [expected_request()]


def test_json_with_bad_hex_id_is_400_naming_the_field(receivers, pipeline):
    document = otlp_json_document()
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "not-hex!"

    response = post(receivers, json.dumps(document).encode(), JSON)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    status = status_of(response)
    assert "resourceSpans[0].scopeSpans[0].spans[0].spanId is not hex" in status.message
    assert bad_request_of(status).field_violations[0].field == "resourceSpans[0].scopeSpans[0].spans[0].spanId"
    assert pipeline.calls == 0


def test_invalid_json_is_400_in_json(receivers, pipeline):
    response = post(receivers, b'{"resourceSpans": [', JSON)

    assert response.status_code == 400
    assert "invalid JSON" in status_of(response).message
    assert pipeline.calls == 0


# --- empty and undecodable bodies ----------------------------------------------------------


@pytest.mark.parametrize("headers", [PROTOBUF, JSON, {**PROTOBUF, "Content-Encoding": "gzip"}])
def test_empty_body_is_an_empty_request_answered_200(receivers, pipeline, headers):
    response = post(receivers, b"", headers)

    assert response.status_code == 200
    assert pipeline.calls == 0


def test_request_without_spans_is_200_and_not_submitted(receivers, pipeline):
    response = post(receivers, b'{"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}', JSON)

    assert response.status_code == 200
    assert pipeline.calls == 0


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xff\xff\xff garbage",
        encode_spans(make_spans(2)).SerializeToString()[:-5],  # truncated
    ],
    ids=["garbage", "truncated"],
)
def test_undecodable_protobuf_is_400_with_a_status_body(receivers, pipeline, body):
    response = post(receivers, body, PROTOBUF)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    status = status_of(response)
    assert status.code == 3  # INVALID_ARGUMENT
    assert "not a valid protobuf ExportTraceServiceRequest" in status.message
    assert bad_request_of(status).field_violations[0].description == status.message
    assert pipeline.calls == 0


def test_corrupt_gzip_is_400(receivers, pipeline):
    body = gzip.compress(encode_spans(make_spans(1)).SerializeToString())[:-10]

    response = post(receivers, body, {**PROTOBUF, "Content-Encoding": "gzip"})

    assert response.status_code == 400
    assert "gzip body is truncated" in status_of(response).message
    assert pipeline.calls == 0


# --- methods, media types, encodings ---------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_are_405(receivers, pipeline, method):
    response = post(receivers, b"", PROTOBUF, method=method)

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert f"{method} is not allowed" in status_of(response).message


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_other_content_types_are_415(receivers, pipeline, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = post(receivers, encode_spans(make_spans(1)).SerializeToString(), headers)

    assert response.status_code == 415
    assert "unsupported Content-Type" in status_of(response).message
    assert pipeline.calls == 0


def test_other_content_encodings_are_415_listing_what_is_accepted(receivers, pipeline):
    response = post(receivers, b"\x00\x01", {**PROTOBUF, "Content-Encoding": "br"})

    assert response.status_code == 415
    assert "gzip" in response.headers["accept-encoding"]
    assert "unsupported Content-Encoding 'br'" in status_of(response).message
    assert pipeline.calls == 0


# --- size caps ---------------------------------------------------------------------------------


def test_declared_content_length_over_the_cap_is_413_before_the_body_is_read(start_receivers, pipeline):
    receivers = start_receivers(max_request_bytes=1024)
    port = int(receivers.http_url.rsplit(":", 1)[1])
    # Announce 10 MB and send none of it: only an answer that does not wait for the body arrives.
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-protobuf\r\n"
            b"Content-Length: 10000000\r\n\r\n"
        )
        answer = connection.recv(65536)

    assert answer.startswith(b"HTTP/1.1 413 ")
    assert pipeline.calls == 0


def test_streamed_body_without_content_length_over_the_cap_is_413(start_receivers, pipeline):
    receivers = start_receivers(max_request_bytes=1024)

    def chunks():
        for _ in range(3):
            yield b"\x0a" * 600

    with httpx.Client(timeout=60) as client:
        response = client.post(f"{receivers.http_url}/v1/traces", content=chunks(), headers=PROTOBUF)

    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert "over the limit of 1024 bytes" in status_of(response).message
    assert pipeline.calls == 0


def test_gzip_bomb_is_413(receivers, pipeline):
    bomb = gzip_of_zeros(1024 * MiB)  # 1 GiB of zeros, about 1 MB on the wire

    response = post(receivers, bomb, {**PROTOBUF, "Content-Encoding": "gzip"})

    assert response.status_code == 413
    assert "decompressed request is over the limit" in status_of(response).message
    assert pipeline.calls == 0


def test_body_within_the_cap_that_decompresses_past_it_is_413(start_receivers, pipeline):
    receivers = start_receivers(max_request_bytes=4096)
    data = encode_spans(make_spans(1, padding=10_000)).SerializeToString()
    body = gzip.compress(data)
    assert len(body) < 4096 < len(data)

    response = post(receivers, body, {**PROTOBUF, "Content-Encoding": "gzip"})

    assert response.status_code == 413
    assert pipeline.calls == 0


def test_sdk_exporter_is_told_413_and_drops_the_batch(start_receivers, pipeline):
    receivers = start_receivers(max_request_bytes=4096)

    result = exporter_for(receivers).export(make_spans(1, padding=10_000))

    assert result == SpanExportResult.FAILURE
    assert pipeline.calls == 0


# --- partial success and backpressure ---------------------------------------------------------


def test_rejected_spans_are_a_200_partial_success_in_protobuf(receivers, pipeline):
    pipeline.rejected_spans = 1
    pipeline.error_message = "1 span has no trace id"

    response = post(receivers, encode_spans(make_spans(2)).SerializeToString(), PROTOBUF)

    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.HasField("partial_success")
    assert answer.partial_success.rejected_spans == 1
    assert answer.partial_success.error_message == "1 span has no trace id"


def test_rejected_spans_are_a_200_partial_success_in_json(receivers, pipeline):
    pipeline.rejected_spans = 1
    pipeline.error_message = "1 span has no trace id"

    response = post(receivers, otlp_json_bytes(), JSON)

    assert response.status_code == 200
    # int64 fields are strings in protobuf's JSON mapping.
    assert response.json() == {"partialSuccess": {"rejectedSpans": "1", "errorMessage": "1 span has no trace id"}}


def test_sdk_exporter_takes_a_partial_success_without_retrying(receivers, pipeline):
    pipeline.rejected_spans = 1

    assert exporter_for(receivers).export(make_spans(2)) == SpanExportResult.SUCCESS
    assert pipeline.calls == 1


@pytest.mark.parametrize("headers", [PROTOBUF, JSON])
def test_backpressure_is_503_with_retry_after(receivers, pipeline, headers):
    pipeline.refuse_next(1, retry_after=2)
    body = encode_spans(make_spans(1)).SerializeToString() if headers is PROTOBUF else otlp_json_bytes()

    response = post(receivers, body, headers)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"] == headers["Content-Type"]
    status = status_of(response)
    assert status.message == "the log is full"
    retry_info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry_info)
    assert retry_info.retry_delay.seconds == 2


def test_sdk_exporter_retries_after_503_and_delivers(receivers, pipeline):
    pipeline.refuse_next(1, retry_after=1)
    spans = make_spans(2)

    result = exporter_for(receivers, compression=Compression.Gzip).export(spans)

    assert result == SpanExportResult.SUCCESS
    assert pipeline.calls == 2
    assert pipeline.requests == [encode_spans(spans)]


# --- authentication hook ------------------------------------------------------------------------


def authenticate(headers):
    key = headers.get("authorization", "")
    if key == "Bearer good":
        return Principal(key_id="k1", app="checkout")
    if key:
        raise PermissionError("unknown API key")
    return None


def test_authenticate_passes_the_principal_to_the_pipeline(start_receivers, pipeline):
    receivers = start_receivers(authenticate=authenticate)
    spans = make_spans(1)

    exporter = exporter_for(receivers, headers={"Authorization": "Bearer good"})
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert pipeline.submitted == [(encode_spans(spans), Principal(key_id="k1", app="checkout"))]


def test_bad_key_is_401(start_receivers, pipeline):
    receivers = start_receivers(authenticate=authenticate)

    response = post(receivers, encode_spans(make_spans(1)).SerializeToString(),
                    {**PROTOBUF, "Authorization": "Bearer stolen"})

    assert response.status_code == 401
    assert status_of(response).message == "unknown API key"
    assert pipeline.calls == 0
