"""LLM spans for the end-to-end tests: a hand-priced gpt-4o-mini call, and ways to send
spans to a running service as the OTel SDK does."""
from __future__ import annotations

import http.client
import threading
import time
from decimal import Decimal

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
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


# --- load: many requests, sent the way OTLP exporters send them (retrying until a 200) ---

def llm_request(number: int, spans: int = 50) -> bytes:
    """An OTLP protobuf request of `spans` gpt-4o-mini chat spans with ids unique to `number`."""
    now = time.time_ns()
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name", value=AnyValue(string_value="load"))
    scope = resource_spans.scope_spans.add()
    for n in range(spans):
        span = scope.spans.add(trace_id=(number + 1).to_bytes(16, "big"),
                               span_id=(number * spans + n + 1).to_bytes(8, "big"),
                               name="chat gpt-4o-mini", kind=Span.SPAN_KIND_CLIENT,
                               start_time_unix_nano=now - 10**9, end_time_unix_nano=now)
        for key, value in (("gen_ai.operation.name", AnyValue(string_value="chat")),
                           ("gen_ai.provider.name", AnyValue(string_value="openai")),
                           ("gen_ai.request.model", AnyValue(string_value="gpt-4o-mini")),
                           ("gen_ai.usage.input_tokens", AnyValue(int_value=1000)),
                           ("gen_ai.usage.output_tokens", AnyValue(int_value=100))):
            span.attributes.append(KeyValue(key=key, value=value))
    return request.SerializeToString()


class RetryingClient:
    """Sends its requests in order, each until a 200; counts the 503s it was told to wait on."""

    def __init__(self, bodies: list[bytes]):
        self.bodies = bodies
        self.acknowledged = 0
        self.refused = 0
        self.url = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        for body in self.bodies:
            while not self.stop.is_set():
                status, retry_after = self._post(body)
                if status == 200:
                    self.acknowledged += 1
                    break
                if status == 503:
                    self.refused += 1
                time.sleep(retry_after)

    def _post(self, body: bytes) -> tuple[int | None, float]:
        url = self.url
        if url is None:
            return None, 0.1
        try:
            connection = http.client.HTTPConnection(url.split("//", 1)[1], timeout=30)
            connection.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            response = connection.getresponse()
            response.read()
            connection.close()
            return response.status, float(response.getheader("Retry-After") or 0.05)
        except OSError:  # the service is down: try again shortly, like an exporter would
            return None, 0.1


def run_clients(clients: list[RetryingClient], url: str) -> None:
    for client in clients:
        client.url = url
        client.thread.start()
