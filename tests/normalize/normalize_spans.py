"""Building export requests for the normalize tests.

Spans come from the real OpenTelemetry SDK and are encoded by the OTLP exporters' own
encoder, so a request here is byte for byte what an instrumented app sends. Edge cases
the SDK refuses to produce (broken ids, clocks, key-value lists) are built as protobufs.
"""
from __future__ import annotations

import time

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from llmledger.processor.normalize import Normalized, WrapperFilter, normalize_request

SECOND_NS = 1_000_000_000


class SpanRecorder:
    """A tracer provider whose finished spans become one ExportTraceServiceRequest."""

    def __init__(self, resource: dict | None = None, scope: str = "test.instrumentation", scope_version: str = "1.2.3"):
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create({"service.name": "support-bot", **(resource or {})}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer(scope, scope_version)

    def span(self, name: str, attributes: dict, kind: SpanKind = SpanKind.CLIENT, **options):
        """Start and end one span at once."""
        self.tracer.start_span(name, kind=kind, attributes=attributes, **options).end()

    def request(self, reverse: bool = False) -> ExportTraceServiceRequest:
        """Everything finished so far, in end order (or the reverse), as one request; then forget it."""
        spans = list(self.exporter.get_finished_spans())
        self.exporter.clear()
        return encode_spans(spans[::-1] if reverse else spans)


def normalize(request: ExportTraceServiceRequest, wrappers: WrapperFilter | None = None) -> Normalized:
    return normalize_request(request, now_ns=time.time_ns(), wrappers=wrappers)


def one_call(attributes: dict, resource: dict | None = None, name: str = "chat"):
    """Normalize a single span and return its LlmCall (the test fails if it is not one)."""
    recorder = SpanRecorder(resource)
    recorder.span(name, attributes)
    result = normalize(recorder.request())
    assert result.rejected == 0, result.errors
    assert len(result.calls) == 1, f"expected one LLM call, got {len(result.calls)}"
    return result.calls[0]


def raw_request(*spans, resource_attributes: dict | None = None) -> ExportTraceServiceRequest:
    """A request holding hand-built protobuf spans, under one resource and scope."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in {"service.name": "raw-service", **(resource_attributes or {})}.items():
        attribute = resource_spans.resource.attributes.add()
        attribute.key = key
        attribute.value.string_value = value
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "raw.scope"
    for span in spans:
        scope_spans.spans.add().CopyFrom(span)
    return request


def raw_span(**fields):
    """A valid protobuf span (ids set, started a second ago, lasting 0.5 s); `fields` override."""
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    start = time.time_ns() - SECOND_NS
    values = {
        "trace_id": bytes.fromhex("5b8efff798038103d269b633813fc60c"),
        "span_id": bytes.fromhex("eee19b7ec3c1b174"),
        "name": "raw span",
        "kind": Span.SPAN_KIND_CLIENT,
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + SECOND_NS // 2,
    }
    values.update(fields)
    return Span(**values)
