"""Hand-built OTLP spans and the service's answer to them, for the fault tests."""
from __future__ import annotations

import http.client
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

CHAT = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100}


def _any_value(value) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=value)


def span(number: int, name: str, attributes: dict, *, trace: int = 1, start_ns: int | None = None,
         events: list[tuple[str, int]] = ()) -> Span:
    """A CLIENT span with id `number`, started a second before `start_ns` (default: now)."""
    end = start_ns + 10**9 if start_ns is not None else time.time_ns()
    built = Span(trace_id=trace.to_bytes(16, "big"), span_id=number.to_bytes(8, "big"), name=name,
                 kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=end - 10**9, end_time_unix_nano=end)
    for key, value in attributes.items():
        built.attributes.append(KeyValue(key=key, value=_any_value(value)))
    for event_name, at in events:
        built.events.add(name=event_name, time_unix_nano=at)
    return built


def request_of(*spans: Span, service_name: str = "poison") -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name", value=AnyValue(string_value=service_name))
    resource_spans.scope_spans.add().spans.extend(spans)
    return request.SerializeToString()


def post(service, body: bytes) -> tuple[int, ExportTraceServiceResponse | bytes]:
    """POST an OTLP/protobuf body; the decoded answer on a 200, the raw body otherwise."""
    connection = http.client.HTTPConnection(service.http_url.split("//", 1)[1], timeout=60)
    connection.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.status != 200:
        return response.status, data
    return 200, ExportTraceServiceResponse.FromString(data)
