"""Shared fixtures for the instrumentation tests: real OTel SDK providers that
keep what they produce in memory.

    def test_something(otel):
        ...instrument with tracer_provider=otel.tracer_provider,
                          meter_provider=otel.meter_provider...
        [span] = otel.spans()
        points = otel.metric_points("gen_ai.client.token.usage")
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@dataclass
class OtelCapture:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    span_exporter: InMemorySpanExporter
    metric_reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in the order they ended."""
        return list(self.span_exporter.get_finished_spans())

    def metric_points(self, name: str) -> list:
        """The data points of metric `name` collected so far (cumulative)."""
        data = self.metric_reader.get_metrics_data()
        points = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points

    def metric(self, name: str):
        """The metric object itself (name, unit, data) or None."""
        data = self.metric_reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        return metric
        return None


@pytest.fixture
def otel() -> OtelCapture:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    capture = OtelCapture(tracer_provider, meter_provider, exporter, reader)
    yield capture
    tracer_provider.shutdown()
    meter_provider.shutdown()
