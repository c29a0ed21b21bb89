"""How long normalizing one export request of 500 realistic LLM spans takes.

Not a test (no timing is asserted anywhere): run it by hand on a quiet machine,
    python tests/normalize/bench_normalize.py
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

from llmledger.processor.normalize import WrapperFilter, normalize_request


def realistic_request(count: int = 500) -> ExportTraceServiceRequest:
    """`count` chat spans as the GenAI instrumentation of the openai SDK emits them."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({
        "service.name": "support-bot", "deployment.environment.name": "prod", "llmledger.team": "care",
    }))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("llmledger.instrumentation.openai", "0.1.0")
    for i in range(count):
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.request.max_tokens": 512,
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.stream": False,
            "server.address": "api.openai.com",
            "server.port": 443,
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.response.id": f"chatcmpl-{i:08d}",
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.usage.input_tokens": 1200 + i,
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.usage.cache_read.input_tokens": 1024,
            "openai.response.service_tier": "default",
            "user.id": f"user-{i % 50}",
            "session.id": f"session-{i % 10}",
            "llmledger.feature": "answer",
        }):
            pass
    return encode_spans(exporter.get_finished_spans())


def main() -> None:
    data = realistic_request().SerializeToString()
    now_ns = time.time_ns()
    best = float("inf")
    for _ in range(20):
        request = ExportTraceServiceRequest.FromString(data)
        started = time.thread_time()  # CPU time: other load on the machine does not count
        result = normalize_request(request, now_ns=now_ns, wrappers=WrapperFilter())
        best = min(best, time.thread_time() - started)
    print(f"500 spans -> {len(result.trace_rows)} rows, {len(result.calls)} calls: best {best * 1000:.2f} ms")


if __name__ == "__main__":
    main()
