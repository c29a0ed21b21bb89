"""Spans captured from the real frameworks, kept as data in `spans/<stack>.json`.

Each file holds the OTLP export requests (protobuf JSON) that one stack app of
tests/stacks/apps sent to a local OTLP endpoint while it made its calls to the fake
OpenAI server: a chat call, a streamed chat call and a call the server failed with a 500
(OpenLIT's also a stream that reported no usage). `python tests/stacks/capture.py` makes
them again from the pinned packages.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from llmledger.processor.normalize import normalize_request
from llmledger.processor.normalize.llm_call import is_llm_call
from llmledger.processor.normalize.values import attributes_text
from llmledger.processor.record import LlmCall

SPANS = Path(__file__).parent / "spans"
STACKS = sorted(path.stem for path in SPANS.glob("*.json"))
# The calls each stack app made that reached the provider: a call, a streamed call and a
# failed call; OpenLIT's app also a stream without usage, the Vercel AI SDK's two more calls
# through Anthropic.
REAL_CALLS = {stack: 3 for stack in STACKS} | {"openlit": 4, "vercel_ai": 5}


def captured_requests(stack: str) -> list[ExportTraceServiceRequest]:
    return [json_format.ParseDict(request, ExportTraceServiceRequest())
            for request in json.loads((SPANS / f"{stack}.json").read_text())]


def captured_calls(stack: str) -> list[LlmCall]:
    """Every span of the stack that normalize reads as an LLM call, in capture order."""
    calls = []
    for request in captured_requests(stack):
        result = normalize_request(request, now_ns=time.time_ns())
        assert result.rejected == 0, result.errors
        calls += result.calls
    return calls


def llm_span_count(stack: str) -> int:
    """How many of the stack's spans look like LLM calls: the calls, their twins and the
    framework spans wrapping them."""
    return sum(is_llm_call(attributes_text(span.attributes), failed=span.status.code == 2)
               for request in captured_requests(stack) for rs in request.resource_spans
               for ss in rs.scope_spans for span in ss.spans)


def shifted(requests: list[ExportTraceServiceRequest], to_ns: int) -> list[ExportTraceServiceRequest]:
    """The requests with every span moved in time so that the earliest starts at `to_ns`
    (a service keeps recent calls in mind for twins, not those of the capture day)."""
    spans = [span for request in requests for rs in request.resource_spans for ss in rs.scope_spans
             for span in ss.spans]
    offset = to_ns - min(span.start_time_unix_nano for span in spans)
    for span in spans:
        span.start_time_unix_nano += offset
        span.end_time_unix_nano += offset
        for event in span.events:
            event.time_unix_nano += offset
    return requests


def one_span_per_request(stack: str, start_ns: int | None = None) -> list[ExportTraceServiceRequest]:
    """The stack's spans, each in an export request of its own (as separate batches send
    them), moved to start at `start_ns` if given."""
    requests = captured_requests(stack)
    if start_ns is not None:
        shifted(requests, start_ns)
    singles = []
    for request in requests:
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    single = ExportTraceServiceRequest()
                    rs = single.resource_spans.add()
                    rs.resource.CopyFrom(resource_spans.resource)
                    ss = rs.scope_spans.add()
                    ss.scope.CopyFrom(scope_spans.scope)
                    ss.spans.add().CopyFrom(span)
                    singles.append(single)
    return singles
