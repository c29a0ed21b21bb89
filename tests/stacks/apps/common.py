"""What every stack app shares: an OTel tracer provider exporting OTLP/HTTP, and the calls to make.

The apps run in the stack's own virtual environment (see ../environments.py), so this file
imports only the OpenTelemetry SDK and its OTLP exporter, which every stack installs. The
endpoint comes from OTEL_EXPORTER_OTLP_ENDPOINT, the fake OpenAI server from OPENAI_BASE_URL.
"""
from __future__ import annotations

import json
import os
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

MODEL = "gpt-4o-mini"
PROMPT = "Say hello."
# The fake server answers a request containing this with a 500 (see fake_openai.py).
FAILING_PROMPT = "Say hello. [[fail 500]]"


def tracer_provider(service_name: str) -> TracerProvider:
    """A provider exporting every span to the OTLP endpoint, set as the global one."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def report(**facts) -> None:
    """Tell the test what the app saw (one JSON line on stdout)."""
    print(json.dumps(facts), flush=True)


def base_url() -> str:
    return os.environ["OPENAI_BASE_URL"]


def expect_failure(call) -> str:
    """Run a call that the fake server fails; the exception's type name."""
    try:
        call()
    except Exception as exc:  # each framework wraps the SDK's error its own way
        return type(exc).__name__
    sys.exit("the failing call did not fail")
