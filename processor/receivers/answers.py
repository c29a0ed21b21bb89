"""The messages both receivers answer with: export responses and `google.rpc.Status` errors."""
from __future__ import annotations

from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from llmledger.processor.pipeline import SubmitResult


def export_response(result: SubmitResult) -> ExportTraceServiceResponse:
    """Full success leaves `partial_success` unset; rejected spans (or a warning) fill it in."""
    if result.rejected_spans <= 0 and not result.error_message:
        return ExportTraceServiceResponse()
    return ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(
            rejected_spans=max(result.rejected_spans, 0),
            error_message=result.error_message,
        )
    )


def span_count(request: ExportTraceServiceRequest) -> int:
    return sum(
        len(scope_spans.spans)
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
    )


def error_status(code: int, message: str, *details) -> status_pb2.Status:
    """`code` is a google.rpc.Code; `details` are messages packed into Status.details."""
    status = status_pb2.Status(code=code, message=message)
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    return status


def bad_request_status(message: str, field: str = "") -> status_pb2.Status:
    violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=message)
    return error_status(
        code_pb2.INVALID_ARGUMENT, message, error_details_pb2.BadRequest(field_violations=[violation])
    )


def retry_info(seconds: int) -> error_details_pb2.RetryInfo:
    return error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds))


def unavailable_status(message: str, retry_after: int) -> status_pb2.Status:
    return error_status(code_pb2.UNAVAILABLE, message, retry_info(retry_after))
