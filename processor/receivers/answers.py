"""The messages both receivers answer with: export responses (of any signal) and `google.rpc.Status` errors."""
from __future__ import annotations

from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from llmledger.processor.pipeline import SubmitResult

from .signals import TRACES, Signal


def export_response(result: SubmitResult, signal: Signal = TRACES):
    """Full success leaves `partial_success` unset; rejected items (or a warning) fill it in."""
    if result.rejected_spans <= 0 and not result.error_message:
        return signal.response_type()
    partial = signal.partial_success_type(error_message=result.error_message)
    setattr(partial, signal.rejected_field, max(result.rejected_spans, 0))
    return signal.response_type(partial_success=partial)


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
