"""The seam between receivers and the rest of the processor.

Both OTLP receivers (HTTP and gRPC) decode a request into an
`ExportTraceServiceRequest` and hand it to `Pipeline.submit`. When `submit`
returns, the accepted spans are durable; the receiver only translates the
outcome into its protocol's answer.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent a request, when authentication is on: a key may be bound to an app/tenant."""

    key_id: str
    app: str = ""
    tenant: str = ""


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What became of one export request. Rejected spans are reported as OTLP partial success."""

    accepted_spans: int
    rejected_spans: int = 0
    error_message: str = ""


class Backpressure(Exception):
    """The processor cannot take the request now (log full, store down, memory cap).

    Receivers answer 503 / UNAVAILABLE with `retry_after` seconds (1-3 s, so the
    OTel exporters retry instead of giving up)."""

    def __init__(self, reason: str, retry_after: int = 2):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
