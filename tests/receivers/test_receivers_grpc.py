"""The OTLP/gRPC receiver on a real grpc.aio server, fed by the OTel SDK's gRPC exporter and
by a raw channel for what the exporter never sends."""
from __future__ import annotations

import grpc
import pytest
from receiver_harness import make_spans
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.sdk.trace.export import SpanExportResult

from llmledger.processor.pipeline import Principal

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def exporter_for(receivers, **options) -> OTLPSpanExporter:
    return OTLPSpanExporter(endpoint=receivers.grpc_address, insecure=True, **options)


def send_raw(receivers, body: bytes, compression=None, metadata=()):
    """Send `body` as the Export request message as is; returns the response bytes."""
    with grpc.insecure_channel(receivers.grpc_address) as channel:
        export = channel.unary_unary(EXPORT)  # no serializers: bytes in, bytes out
        return export(body, timeout=60, compression=compression, metadata=metadata)


def status_details(error: grpc.RpcError) -> status_pb2.Status:
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    return status_pb2.Status.FromString(details)


# --- what the SDK exporter sends ---------------------------------------------------------


@pytest.mark.parametrize("compression", [None, grpc.Compression.Gzip])
def test_sdk_exporter_spans_arrive_exactly_as_sent(receivers, pipeline, compression):
    spans = make_spans(3)

    assert exporter_for(receivers, compression=compression).export(spans) == SpanExportResult.SUCCESS
    assert pipeline.requests == [encode_spans(spans)]
    assert pipeline.submitted[0][1] is None


def test_large_export_is_decoded_whole(receivers, pipeline):
    # Over PROTOBUF_THREAD_BYTES: parsed on a worker thread.
    spans = make_spans(5, padding=1_000_000)

    assert exporter_for(receivers, compression=grpc.Compression.Gzip).export(spans) == SpanExportResult.SUCCESS
    assert pipeline.requests == [encode_spans(spans)]


def test_empty_request_succeeds_without_reaching_the_pipeline(receivers, pipeline):
    answer = send_raw(receivers, b"")

    assert ExportTraceServiceResponse.FromString(answer) == ExportTraceServiceResponse()
    assert pipeline.calls == 0


# --- bad data and size caps --------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"\xff\xff\xff\xff garbage", encode_spans(make_spans(2)).SerializeToString()[:-5]],
    ids=["garbage", "truncated"],
)
def test_undecodable_request_is_invalid_argument(receivers, pipeline, body):
    with pytest.raises(grpc.RpcError) as caught:
        send_raw(receivers, body)

    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid protobuf ExportTraceServiceRequest" in error.details()
    status = status_details(error)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert pipeline.calls == 0


def test_message_over_the_cap_is_resource_exhausted(start_receivers, pipeline):
    receivers = start_receivers(max_request_bytes=64 * 1024)
    body = encode_spans(make_spans(1, padding=100_000)).SerializeToString()

    with pytest.raises(grpc.RpcError) as caught:
        send_raw(receivers, body)

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert pipeline.calls == 0


def test_cap_applies_to_the_decompressed_message(start_receivers, pipeline):
    receivers = start_receivers(max_request_bytes=64 * 1024)
    # 1 MiB of one letter gzips to a few KB on the wire.
    body = encode_spans(make_spans(1, padding=1024 * 1024)).SerializeToString()

    with pytest.raises(grpc.RpcError) as caught:
        send_raw(receivers, body, compression=grpc.Compression.Gzip)

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert pipeline.calls == 0


# --- partial success and backpressure -----------------------------------------------------


def test_rejected_spans_are_a_partial_success(receivers, pipeline):
    pipeline.rejected_spans = 1
    pipeline.error_message = "1 span has no trace id"

    with grpc.insecure_channel(receivers.grpc_address) as channel:
        answer = TraceServiceStub(channel).Export(encode_spans(make_spans(2)), timeout=60)

    assert answer.HasField("partial_success")
    assert answer.partial_success.rejected_spans == 1
    assert answer.partial_success.error_message == "1 span has no trace id"


def test_backpressure_is_unavailable_with_retry_info(receivers, pipeline):
    pipeline.refuse_next(1, retry_after=2)

    with pytest.raises(grpc.RpcError) as caught:
        send_raw(receivers, encode_spans(make_spans(1)).SerializeToString())

    error = caught.value
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details() == "the log is full"
    # Where gRPC clients in general look: the Status with a RetryInfo detail ...
    status = status_details(error)
    retry_info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry_info)
    assert retry_info.retry_delay.seconds == 2
    # ... and where the OTel Python exporter looks.
    python_retry_info = error_details_pb2.RetryInfo.FromString(
        dict(error.trailing_metadata())["google.rpc.retryinfo-bin"]
    )
    assert python_retry_info.retry_delay.seconds == 2


def test_sdk_exporter_retries_after_unavailable_and_delivers(receivers, pipeline):
    pipeline.refuse_next(1, retry_after=1)
    spans = make_spans(2)

    result = exporter_for(receivers, compression=grpc.Compression.Gzip).export(spans)

    assert result == SpanExportResult.SUCCESS
    assert pipeline.calls == 2
    assert pipeline.requests == [encode_spans(spans)]


# --- authentication hook ------------------------------------------------------------------


def authenticate(headers):
    key = headers.get("authorization", "")
    if key == "Bearer good":
        return Principal(key_id="k1", tenant="acme")
    if key:
        raise PermissionError("unknown API key")
    return None


def test_authenticate_passes_the_principal_to_the_pipeline(start_receivers, pipeline):
    receivers = start_receivers(authenticate=authenticate)
    spans = make_spans(1)

    exporter = exporter_for(receivers, headers={"authorization": "Bearer good"})
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert pipeline.submitted == [(encode_spans(spans), Principal(key_id="k1", tenant="acme"))]


def test_bad_key_is_unauthenticated(start_receivers, pipeline):
    receivers = start_receivers(authenticate=authenticate)

    with pytest.raises(grpc.RpcError) as caught:
        send_raw(receivers, ExportTraceServiceRequest().SerializeToString(),
                 metadata=(("authorization", "Bearer stolen"),))

    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert caught.value.details() == "unknown API key"
    assert pipeline.calls == 0
