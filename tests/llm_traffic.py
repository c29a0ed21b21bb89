"""LLM spans for the end-to-end tests: a hand-priced gpt-4o-mini call, and ways to send
spans to a running service as the OTel SDK does."""
from __future__ import annotations

from decimal import Decimal

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

# gpt-4o-mini: 0.15 in / 0.075 cached in / 0.60 out per 1M tokens.
# 1000 input tokens of which 200 cached, 100 output:
#   800 × 0.15/1M = 0.000120, 200 × 0.075/1M = 0.000015, 100 × 0.60/1M = 0.000060 → 0.000195
GPT_4O_MINI_COST = Decimal("0.000195")

GPT_4O_MINI_CHAT = {
    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "server.address": "api.openai.com",
    "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100,
    "gen_ai.usage.cache_read.input_tokens": 200,
}


def tracer_provider(service_name="support-bot", **resource):
    return TracerProvider(resource=Resource.create({"service.name": service_name, **resource}))


def export_spans(service, spans_spec, *, service_name="support-bot", compression=None):
    """Send spans through the real OTLP/HTTP exporter; spans_spec: list of (name, attributes)."""
    from opentelemetry.exporter.otlp.proto.http import Compression

    provider = tracer_provider(service_name, **{"deployment.environment.name": "production"})
    exporter = OTLPSpanExporter(endpoint=f"{service.http_url}/v1/traces",
                                compression=compression or Compression.NoCompression)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("handle request", kind=SpanKind.SERVER):
        for name, attributes in spans_spec:
            tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes).end()
    provider.shutdown()


def encoded_request(spans_spec, service_name="support-bot") -> bytes:
    """The exact protobuf body the OTLP exporter would send for these spans."""
    memory = InMemorySpanExporter()
    provider = tracer_provider(service_name)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for name, attributes in spans_spec:
        tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes).end()
    return encode_spans(memory.get_finished_spans()).SerializeToString()
