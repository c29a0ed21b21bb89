"""Big OTLP requests and many clients sending them at once, for the overload tests."""
from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from llm_traffic import GPT_4O_MINI_CHAT, encoded_request


def big_request(mib: float, client: int) -> ExportTraceServiceRequest:
    """About `mib` MiB of LLM spans, with span ids of their own for each `client`."""
    template = ExportTraceServiceRequest.FromString(encoded_request([("chat gpt-4o-mini", GPT_4O_MINI_CHAT)]))
    request = ExportTraceServiceRequest()
    request.resource_spans.add().CopyFrom(template.resource_spans[0])
    scope = request.resource_spans[0].scope_spans[0]
    span_template = scope.spans[0]
    # Padding keeps the span count (and so the test's CPU time) modest for the bytes sent.
    span_template.attributes.append(KeyValue(key="padding", value=AnyValue(string_value="x" * 4000)))
    del scope.spans[:]
    count = max(1, int(mib * (1 << 20) / span_template.ByteSize()))
    for i in range(count):
        span = scope.spans.add()
        span.CopyFrom(span_template)
        span.span_id = (client * 10**7 + i + 1).to_bytes(8, "big")
    return request
