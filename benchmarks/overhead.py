"""What llmledger's instrumentation adds to one SDK call, against one bare OTel span.

    python benchmarks/overhead.py [--rounds 31] [--calls 200] [--e2e-rounds 15] [--e2e-calls 20]

The yardstick is what an app pays to trace the same call by hand with the OTel SDK:
`tracer.start_span(name, kind=CLIENT, attributes={...})` with exactly the attributes
the instrumentation puts on its span (read from one instrumented call), the span made
current while the call runs (`context.attach(trace.set_span_in_context(span))`, as the
instrumentation does, so that spans the SDK's HTTP client makes are its children),
the call, `span.set_attributes({...the response's...})`, `span.end()`. The same span not
made current is timed too, for reference ("not current"). Every figure is the time
added to the call; the ratio is instrumentation / bare span. The variants are timed
in alternation, in short batches and a rotating order, so that the drift of a shared
machine hits them alike: the call alone, the call in a bare span (current, and not),
the instrumented call with spans only (`OTEL_METRICS_EXPORTER=none`), and with the
three GenAI metrics on a real MeterProvider. The ratio is the median of the per-round
ratios.

1. Per SDK, the patched method alone: the real `openai`, `anthropic`, `google-genai`,
   `boto3` (Bedrock Converse), `mistralai` and `cohere` SDKs make one call each
   (non-streamed and streamed) — OpenAI's to an in-process mock transport, the others to
   the test suite's fake servers (tests/instrumentation/fake_*.py, on loopback in this
   process) — recording what the patched method receives and returns. The timed calls
   replace the SDK's part by a stub handing back that recording (a stream's chunks,
   parsed once up front, are iterated, from a generator where the SDK returned one), so
   the figures are what tracing adds and nothing else.
2. End to end: the real `openai` SDK on an in-process mock transport (no network), a
   non-streamed chat completion and a streamed one. An SDK call itself costs a
   millisecond or more, so these figures carry noise of some tens of µs.

All spans go to a real TracerProvider (BatchSpanProcessor into an exporter that drops
them). Times are CPU time of the process (all threads, the span processor's included),
which a busy shared machine disturbs far less than wall-clock time.
"""
from __future__ import annotations

import argparse
import asyncio  # noqa: F401 (imported before the SDKs, as apps do)
import copy
import gc
import importlib
import json
import os
import statistics
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import httpx2
import openai
import wrapt
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, set_span_in_context

from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation._genai import attributes as attr
from llmledger.instrumentation._genai.metrics import DURATION_BUCKETS, TIME_TO_FIRST_CHUNK_BUCKETS, TOKEN_USAGE_BUCKETS
from llmledger.instrumentation.anthropic import AnthropicInstrumentor
from llmledger.instrumentation.bedrock import BedrockInstrumentor
from llmledger.instrumentation.cohere import CohereInstrumentor
from llmledger.instrumentation.google_genai import GoogleGenAIInstrumentor
from llmledger.instrumentation.mistral import MistralInstrumentor
from llmledger.instrumentation.openai import OpenAIInstrumentor

# The fake provider servers of the test suite.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "instrumentation"))

MESSAGES = [{"role": "user", "content": "Say hello."}]
MODEL = "gpt-4o-mini"
USAGE = {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}

COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1_750_000_000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": USAGE,
}).encode()


def _chunk(delta: dict, finish: str | None, usage: dict | None = None) -> bytes:
    data = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_750_000_000,
            "model": "gpt-4o-mini-2024-07-18", "usage": usage,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(data).encode() + b"\n\n"


# Six chunks: role, four text pieces, and the finish chunk carrying the usage.
STREAM = b"".join([
    _chunk({"role": "assistant", "content": ""}, None),
    *(_chunk({"content": piece}, None) for piece in ("Hel", "lo", " the", "re")),
    _chunk({}, "stop", USAGE),
    b"data: [DONE]\n\n",
])


def _answer(request: httpx2.Request) -> httpx2.Response:
    if b'"stream":true' in request.content.replace(b" ", b""):
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=STREAM)
    return httpx2.Response(200, headers={"content-type": "application/json"}, content=COMPLETION)


def openai_client() -> openai.OpenAI:
    return openai.OpenAI(api_key="bench", base_url="https://api.openai.com/v1", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(_answer)))


class DropSpans(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS


class SpanShape(SpanProcessor):
    """Remembers the name and the attributes of the last span: those it started with, and
    those it gained before it ended."""

    def on_start(self, span, parent_context=None):
        self.name, self.request = span.name, dict(span.attributes)

    def on_end(self, span):
        self.response = {k: v for k, v in span.attributes.items() if k not in self.request or self.request[k] != v}


def metric_points(reader: InMemoryMetricReader) -> list[tuple[str, float, dict]]:
    """(histogram name, value, attributes) of each point one call recorded."""
    points = []
    for resource_metrics in reader.get_metrics_data().resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                points.extend((metric.name, point.sum, dict(point.attributes)) for point in metric.data.data_points)
    return points


def _timed(function: Callable[[], Any], calls: int) -> float:
    """CPU microseconds per call of `function()` (this process, all its threads), garbage
    collection paused."""
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        for _ in range(calls):
            function()
        return (time.process_time() - started) / calls * 1e6
    finally:
        gc.enable()


BUCKETS = {attr.METRIC_TOKEN_USAGE: TOKEN_USAGE_BUCKETS, attr.METRIC_OPERATION_DURATION: DURATION_BUCKETS,
           attr.METRIC_TIME_TO_FIRST_CHUNK: TIME_TO_FIRST_CHUNK_BUCKETS}
VARIANTS = ("not current", "bare span", "by hand + metrics", "spans only", "spans + metrics")


@dataclass
class Added:
    """µs each variant adds to the call alone, and its ratio to the bare span (medians)."""

    micros: dict[str, float]
    ratios: dict[str, float]
    ratios_to_hand_metrics: float  # spans + metrics / by hand + metrics

    # Two header lines, in the columns of `row()`.
    HEADER = (f"{'not':>8}{'bare span':>10}{'+ metrics':>10}{'spans only':>17}{'spans + metrics':>25}",
              f"{'current':>8}{'µs':>10}{'µs':>10}{'µs':>10}{'ratio':>7}{'µs':>10}{'ratio':>7}{'by hand':>8}")

    def row(self) -> str:
        micros, ratios = self.micros, self.ratios
        return (f"{micros['not current']:>8.1f}{micros['bare span']:>10.1f}{micros['by hand + metrics']:>10.1f}"
                f"{micros['spans only']:>10.1f}{ratios['spans only']:>6.2f}x"
                f"{micros['spans + metrics']:>10.1f}{ratios['spans + metrics']:>6.2f}x"
                f"{self.ratios_to_hand_metrics:>7.2f}x")


def compare(plain: Callable, variants: dict[str, Callable], rounds: int, calls: int,
            before: Callable[[str], Any] = lambda name: None,
            after: Callable[[str], Any] = lambda name: None) -> Added:
    """Time `plain` and each variant once per round, in a rotating order; `before(name)` /
    `after(name)` run around a variant's batch, untimed."""
    everything = {"plain": plain, **variants}
    names = list(everything)
    gc.collect()
    gc.freeze()  # what exists now is never garbage: keeps the collections between batches short
    for name in names:  # warm-up: caches, pools, first-call checks
        before(name)
        _timed(everything[name], max(calls // 4, 5))
        after(name)
    added: dict[str, list[float]] = {name: [] for name in variants}
    ratios: dict[str, list[float]] = {name: [] for name in variants}
    to_hand_metrics: list[float] = []
    for round_ in range(rounds):
        timings = {}
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            before(name)
            try:
                timings[name] = _timed(everything[name], calls)
            finally:
                after(name)
        for name in variants:
            added[name].append(timings[name] - timings["plain"])
        bare, hand_metrics = added["bare span"][-1], added["by hand + metrics"][-1]
        for name in variants:
            ratios[name].append(added[name][-1] / bare if bare > 0 else float("nan"))
        to_hand_metrics.append(added["spans + metrics"][-1] / hand_metrics if hand_metrics > 0 else float("nan"))
    return Added({name: statistics.median(values) for name, values in added.items()},
                 {name: statistics.median(values) for name, values in ratios.items()},
                 statistics.median(to_hand_metrics))


class Bench:
    def __init__(self, rounds: int, calls: int):
        self.rounds, self.calls = rounds, calls
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(BatchSpanProcessor(DropSpans()))
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        by_hand = self.meter_provider.get_meter("bench")
        self.histograms = {name: by_hand.create_histogram(name, explicit_bucket_boundaries_advisory=list(buckets))
                           for name, buckets in BUCKETS.items()}
        self.shape = SpanShape()
        self.points: list[tuple[str, float, dict]] = []

    def instrument(self, instrumentor, metrics: bool) -> None:
        # Spans only as under OTEL_METRICS_EXPORTER=none: no meter provider, no metrics.
        instrumentor.instrument(tracer_provider=self.tracer_provider,
                                meter_provider=self.meter_provider if metrics else None,
                                settings=Settings(record_metrics=metrics))

    def learn_shape(self, instrumentor, call: Callable[[], Any]) -> None:
        """The name and attributes of the span, and the metric points, that `call()` makes
        when instrumented by `instrumentor`."""
        tracer_provider, reader = TracerProvider(), InMemoryMetricReader()
        tracer_provider.add_span_processor(self.shape)
        meter_provider = MeterProvider(metric_readers=[reader])
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, settings=Settings())
        try:
            call()
        finally:
            instrumentor.uninstrument()
        self.points = metric_points(reader)
        meter_provider.shutdown()
        tracer_provider.shutdown()

    def by_hand(self, call: Callable[[], Any], metrics: bool, current: bool = True) -> Callable[[], None]:
        """`call` inside one bare SDK span with the attributes the instrumentation gave its span
        (see `learn_shape`), current while `call()` runs unless `current` is False, and with
        `metrics` the same metric points recorded by hand."""
        start = self.tracer_provider.get_tracer("bench").start_span
        name, request, response = self.shape.name, self.shape.request, self.shape.response
        points = [(self.histograms[metric].record, value, attributes) for metric, value, attributes in self.points]
        attach, detach = otel_context.attach, otel_context.detach

        def traced_by_hand():
            span = start(name, kind=SpanKind.CLIENT, attributes=dict(request))
            token = attach(set_span_in_context(span))
            try:
                call()
            finally:
                detach(token)
            span.set_attributes(dict(response))
            span.end()

        def traced_by_hand_not_current():
            span = start(name, kind=SpanKind.CLIENT, attributes=dict(request))
            call()
            span.set_attributes(dict(response))
            span.end()

        if not current:
            return traced_by_hand_not_current

        def traced_and_measured_by_hand():
            traced_by_hand()
            for record, value, attributes in points:
                record(value, attributes)

        return traced_and_measured_by_hand if metrics else traced_by_hand

    def close(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


# --- 1. per SDK, the patched method alone ---------------------------------------------------


@dataclass
class Case:
    provider: str
    streamed: bool
    instrumentor: Any
    target: tuple[str, str]  # (module, "Class.method") the instrumentor patches
    real_call: Callable[[], Any]  # one real call through the SDK, uninstrumented


def _cases() -> tuple[list[Case], list]:
    """The calls of part 1, and the fake servers they talk to (to stop afterwards)."""
    import anthropic
    import boto3
    import cohere
    from botocore.config import Config
    from google import genai
    from google.genai import types
    from mistralai.client import Mistral

    from fake_anthropic import FakeAnthropic
    from fake_bedrock import FakeBedrock
    from fake_cohere import FakeCohere
    from fake_gemini import FakeGemini
    from fake_mistral import FakeMistral

    fakes = [FakeAnthropic().start(), FakeGemini().start(), FakeBedrock().start(), FakeMistral().start(),
             FakeCohere().start()]
    anthropic_fake, gemini_fake, bedrock_fake, mistral_fake, cohere_fake = fakes
    oai = openai_client()
    claude = anthropic.Anthropic(api_key="bench", base_url=anthropic_fake.base_url, max_retries=0)
    gemini = genai.Client(api_key="bench", http_options=types.HttpOptions(
        base_url=gemini_fake.base_url, retry_options=types.HttpRetryOptions(attempts=1)))
    bedrock = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=bedrock_fake.base_url,
                           aws_access_key_id="AKIDBENCH", aws_secret_access_key="secret",
                           config=Config(retries={"total_max_attempts": 1}))
    mistral = Mistral(api_key="bench", server_url=mistral_fake.base_url)
    # Made at each call: a cohere client binds its chat methods when it is created.
    co = lambda: cohere.ClientV2(api_key="bench", base_url=cohere_fake.base_url, max_retries=0)  # noqa: E731
    converse_model, ask = "us.anthropic.claude-sonnet-4-20250514-v1:0", [{"role": "user", "content": [{"text": "Hi"}]}]
    claude_model = "claude-sonnet-4-20250514"
    stainless = ("openai._base_client", "SyncAPIClient.request")
    claude_target = ("anthropic._base_client", "SyncAPIClient.request")
    genai_client, botocore_client = "google.genai._api_client", "botocore.client"
    cases = [
        Case("openai", False, OpenAIInstrumentor(), stainless,
             lambda: oai.chat.completions.create(model=MODEL, messages=MESSAGES)),
        Case("openai", True, OpenAIInstrumentor(), stainless,
             lambda: list(oai.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))),
        Case("anthropic", False, AnthropicInstrumentor(), claude_target,
             lambda: claude.messages.create(model=claude_model, max_tokens=64, messages=MESSAGES)),
        Case("anthropic", True, AnthropicInstrumentor(), claude_target,
             lambda: list(claude.messages.create(model=claude_model, max_tokens=64, messages=MESSAGES,
                                                 stream=True))),
        Case("google-genai", False, GoogleGenAIInstrumentor(), (genai_client, "BaseApiClient.request"),
             lambda: gemini.models.generate_content(model="gemini-2.5-flash", contents="Hi")),
        Case("google-genai", True, GoogleGenAIInstrumentor(), (genai_client, "BaseApiClient.request_streamed"),
             lambda: list(gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"))),
        Case("bedrock", False, BedrockInstrumentor(), (botocore_client, "BaseClient._make_api_call"),
             lambda: bedrock.converse(modelId=converse_model, messages=ask)),
        Case("bedrock", True, BedrockInstrumentor(), (botocore_client, "BaseClient._make_api_call"),
             lambda: list(bedrock.converse_stream(modelId=converse_model, messages=ask)["stream"])),
        Case("mistralai", False, MistralInstrumentor(), ("mistralai.client.chat", "Chat.complete"),
             lambda: mistral.chat.complete(model="mistral-large-2411", messages=MESSAGES)),
        Case("mistralai", True, MistralInstrumentor(), ("mistralai.client.chat", "Chat.stream"),
             lambda: list(mistral.chat.stream(model="mistral-large-2411", messages=MESSAGES))),
        Case("cohere", False, CohereInstrumentor(), ("cohere.v2.client", "V2Client.chat"),
             lambda: co().chat(model="command-r-08-2024", messages=MESSAGES)),
        Case("cohere", True, CohereInstrumentor(), ("cohere.v2.client", "V2Client.chat_stream"),
             lambda: list(co().chat_stream(model="command-r-08-2024", messages=MESSAGES))),
    ]
    return cases, fakes


def _replay(result: Any, items: list | None) -> Any:
    """The recorded result once more, with a fresh iterator over a stream's recorded chunks."""
    if items is None:
        return result
    if isinstance(result, dict):  # botocore: the stream is one value of the parsed dict
        return {**result, "stream": iter(items)}
    if hasattr(result, "_iterator"):  # the Stream of the OpenAI and Anthropic SDKs
        fresh = copy.copy(result)
        fresh._iterator = iter(items)
        return fresh
    if isinstance(result, types.GeneratorType):  # as the SDK answered (Google Gen AI, Cohere): a generator
        return (item for item in items)
    return iter(items)


def _recorded(target: tuple[str, str], real_call: Callable, streamed: bool) -> tuple:
    """(instance, args, kwargs, result, items) of the first call of `target` during `real_call()`;
    `items` are the chunks of a streamed result (None for a whole one)."""
    module, name = target
    cls_name, method = name.split(".")
    cls = getattr(importlib.import_module(module), cls_name)
    original = cls.__dict__[method]
    seen: list = []

    def recorder(wrapped, instance, args, kwargs):
        result = wrapped(*args, **kwargs)
        if seen:
            return result
        items = list(result["stream"] if isinstance(result, dict) else result) if streamed else None
        seen.append((instance, args, kwargs, result, items))
        return _replay(result, items)

    wrapt.wrap_function_wrapper(module, name, recorder)
    try:
        real_call()
    finally:
        setattr(cls, method, original)
    return seen[0]


def _consume(answer: Any) -> None:
    stream = answer.get("stream") if isinstance(answer, dict) else answer
    for _ in stream:
        pass


def _wrapper_of(target: tuple[str, str]) -> Callable:
    """The function the instrumentation patched `target` with (wrapt's wrapper), to call directly."""
    module, name = target
    cls_name, method = name.split(".")
    return vars(getattr(importlib.import_module(module), cls_name))[method]._self_wrapper


def per_sdk(bench: Bench, sdks: set[str] | None) -> None:
    print("1. Per SDK, the instrumented method alone (the SDK's part replaced by its recorded answer):")
    print("   µs added per call; ratio: to one bare span with the same attributes, current during the")
    print("   call (and to that span plus the same metric points recorded by hand); not current: the same")
    print("   bare span not made current, for reference\n")
    print(f"   {'SDK':<13}{'call':<17}{Added.HEADER[0]}\n   {'':<30}{Added.HEADER[1]}")
    cases, fakes = _cases()
    try:
        for case in cases:
            if sdks and case.provider not in sdks:
                continue
            instance, args, kwargs, result, items = _recorded(case.target, case.real_call, case.streamed)
            consume = _consume if case.streamed else (lambda answer: None)

            def sdk_method(*_args, **_kwargs):  # what the patched method would hand back
                return _replay(result, items)

            traced = {}
            for variant, metrics in (("spans only", False), ("spans + metrics", True)):
                bench.instrument(case.instrumentor, metrics)
                traced[variant] = _wrapper_of(case.target)  # keeps working once unpatched
                case.instrumentor.uninstrument()
            bench.learn_shape(case.instrumentor,
                              lambda: consume(_wrapper_of(case.target)(sdk_method, instance, args, kwargs)))

            plain = lambda: consume(sdk_method(*args, **kwargs))  # noqa: E731
            spans, with_metrics = traced["spans only"], traced["spans + metrics"]
            variants = {
                "not current": bench.by_hand(plain, metrics=False, current=False),
                "bare span": bench.by_hand(plain, metrics=False),
                "by hand + metrics": bench.by_hand(plain, metrics=True),
                "spans only": lambda: consume(spans(sdk_method, instance, args, kwargs)),
                "spans + metrics": lambda: consume(with_metrics(sdk_method, instance, args, kwargs)),
            }
            kind = f"streamed ({len(items)})" if case.streamed else "non-streamed"
            added = compare(plain, variants, bench.rounds, bench.calls)
            print(f"   {case.provider:<13}{kind:<17}{added.row()}", flush=True)
    finally:
        for fake in fakes:
            fake.stop()


# --- 2. end to end ----------------------------------------------------------------------------


def end_to_end(bench: Bench, rounds: int, calls: int) -> None:
    print("\n2. End to end, the real openai SDK on a mock transport, µs")
    print(f"   {'call':<22}{'alone':>8}{Added.HEADER[0]}\n   {'':<22}{'µs':>8}{Added.HEADER[1]}")
    client = openai_client()
    instrumentor = OpenAIInstrumentor()
    instrumented = {"spans only": False, "spans + metrics": True}

    def before(name: str) -> None:
        if name in instrumented:
            bench.instrument(instrumentor, instrumented[name])

    def after(name: str) -> None:
        if name in instrumented:
            instrumentor.uninstrument()

    for kind, call in (
        ("non-streamed", lambda: client.chat.completions.create(model=MODEL, messages=MESSAGES)),
        ("streamed (6 chunks)",
         lambda: _consume(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))),
    ):
        bench.learn_shape(instrumentor, call)
        alone = statistics.median(_timed(call, calls) for _ in range(3))
        variants = {"not current": bench.by_hand(call, metrics=False, current=False),
                    "bare span": bench.by_hand(call, metrics=False), "by hand + metrics": bench.by_hand(call, True),
                    "spans only": call, "spans + metrics": call}
        added = compare(call, variants, rounds, calls, before, after)
        print(f"   {kind:<22}{alone:>8.0f}{added.row()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31, help="alternating rounds per figure (part 1)")
    parser.add_argument("--calls", type=int, default=200, help="calls per timed batch (part 1)")
    parser.add_argument("--e2e-rounds", type=int, default=15, help="alternating rounds per figure (part 2)")
    parser.add_argument("--e2e-calls", type=int, default=20, help="calls per timed batch (part 2)")
    parser.add_argument("--sdk", action="append", help="only this SDK in part 1 (repeatable): openai, anthropic, ...")
    args = parser.parse_args()
    bench = Bench(args.rounds, args.calls)
    load = os.getloadavg()
    print(f"CPU time, medians; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs\n")
    per_sdk(bench, set(args.sdk or ()))
    if args.e2e_rounds > 0:
        end_to_end(bench, args.e2e_rounds, args.e2e_calls)
    print("\nspans only: no GenAI metrics recorded (as under OTEL_METRICS_EXPORTER=none);"
          "\nspans + metrics: gen_ai.client.operation.duration and token.usage (and time_to_first_chunk"
          " for streams) on a real MeterProvider.")
    bench.close()


if __name__ == "__main__":
    main()
