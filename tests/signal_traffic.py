"""Metrics and logs as the OpenTelemetry SDK makes them, for the receiver and end-to-end tests.

    data = sdk_metrics()                 # MetricsData: one metric of each kind the SDK makes
    records = sdk_logs()                 # log records, two of them inside a span (GenAI events)
    metrics_request(data) / logs_request(records)   # the exact protobuf requests the exporters send

The figures are constants below so tests can state them literally.
"""
from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanKind

SERVICE = "support-bot"
RESOURCE = Resource.create({"service.name": SERVICE, "deployment.environment.name": "prod"})

# gen_ai.client.token.usage (histogram, GenAI buckets): one call of 1200 input and 300 output tokens.
TOKEN_BOUNDS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
INPUT_TOKENS, OUTPUT_TOKENS = 1200, 300
REQUESTS = 3  # llm.requests (counter), added once per call
IN_FLIGHT = -1  # llm.in_flight (up-down counter): 2 up, 3 down
QUEUE_DEPTH = 7  # llm.queue_depth (gauge)
LATENCIES = (0.5, 1.5, 4.0)  # llm.latency (exponential histogram)


def sdk_metrics():
    reader = InMemoryMetricReader()
    views = [View(instrument_name="llm.latency", aggregation=ExponentialBucketHistogramAggregation())]
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader], views=views)
    meter = provider.get_meter("llmledger.tests", "1.0")
    usage = meter.create_histogram("gen_ai.client.token.usage", unit="{token}",
                                   description="Number of input and output tokens used",
                                   explicit_bucket_boundaries_advisory=list(TOKEN_BOUNDS))
    common = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
              "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18"}
    usage.record(INPUT_TOKENS, {**common, "gen_ai.token.type": "input"})
    usage.record(OUTPUT_TOKENS, {**common, "gen_ai.token.type": "output"})
    meter.create_counter("llm.requests").add(REQUESTS, {"team": "search"})
    in_flight = meter.create_up_down_counter("llm.in_flight")
    in_flight.add(2)
    in_flight.add(-3)
    meter.create_gauge("llm.queue_depth").set(QUEUE_DEPTH)
    latency = meter.create_histogram("llm.latency", unit="s")
    for seconds in LATENCIES:
        latency.record(seconds)
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


def metrics_request(data=None) -> bytes:
    return encode_metrics(data if data is not None else sdk_metrics()).SerializeToString()


def sdk_logs():
    """Three log records: a plain one, and two GenAI events emitted inside a chat span.
    Returns (records, (trace id hex, span id hex) of the span)."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("llmledger.tests", "1.0")
    logger.emit(body="service started", severity_number=SeverityNumber.INFO, severity_text="INFO",
                attributes={"component": "boot"})
    tracer = TracerProvider(resource=RESOURCE).get_tracer("llmledger.tests")
    with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as span:
        logger.emit(event_name="gen_ai.user.message", body={"content": "Say hello."},
                    attributes={"gen_ai.provider.name": "openai"})
        logger.emit(event_name="gen_ai.choice", body={"index": 0, "message": {"content": "Hello!"}},
                    attributes={"gen_ai.provider.name": "openai"})
        context = span.get_span_context()
    records = exporter.get_finished_logs()
    provider.shutdown()
    return records, (format(context.trace_id, "032x"), format(context.span_id, "016x"))


def logs_request(records=None) -> bytes:
    return encode_logs(records if records is not None else sdk_logs()[0]).SerializeToString()
