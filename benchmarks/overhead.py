"""How much time llmledger's instrumentation adds to one SDK call.

    python benchmarks/overhead.py [--batch 50] [--rounds 41]

Three measurements, both with a real TracerProvider (BatchSpanProcessor into an
exporter that drops the spans) and, unless said otherwise, a real MeterProvider:

1. End to end: the real `openai` SDK against an in-process mock transport (no
   network), uninstrumented and instrumented, for a non-streamed chat completion
   and a streamed one (6 chunks). Short batches alternate between the two
   states so that drift of a shared machine hits both alike; the added time is
   the median of the per-pair differences. An SDK call itself costs a
   millisecond or more, so these figures carry noise of some tens of µs.
2. The instrumentation alone: the patched `request` called with the SDK's own
   request machinery replaced by a stub that hands back a ready result (or an
   SDK stream over 6 already parsed chunks, which is then iterated), against
   calling the stub directly. This isolates exactly what the instrumentation adds.
3. The other providers' instrumentation alone, as in 2: the real `google-genai`,
   `boto3` (Bedrock Converse), `mistralai` and `cohere` SDKs make one call each
   (non-streamed and streamed, 3 chunks) to the test suite's fake servers
   (tests/instrumentation/fake_*.py, on loopback in this process), recording what
   the patched method receives and returns; then the patched method is timed with
   the SDK's part replaced by a stub handing back that recording, against the stub.

For scale it also prints what the OTel SDK itself costs for one span, and each
added time as a multiple of that: compare those multiples across machines.
Times are CPU time of the process (all threads), which a busy shared machine
disturbs far less than wall-clock time.
"""
from __future__ import annotations

import argparse
import asyncio  # noqa: F401 (imported before the SDKs, as apps do)
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import httpx2
import openai
import wrapt
from openai._models import FinalRequestOptions
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation.openai import OpenAIInstrumentor

# The fake provider servers of the test suite, for part 3.
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


class DropSpans(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS


def _timed(function, calls: int) -> float:
    """CPU microseconds per call of `function()` (this process, all its threads:
    the span processor's export thread counts too), garbage collection paused.
    CPU time rather than wall time: on a shared machine it hardly depends on
    what other processes do."""
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        for _ in range(calls):
            function()
        return (time.process_time() - started) / calls * 1e6
    finally:
        gc.enable()


class Bench:
    def __init__(self, batch: int, rounds: int):
        self.batch, self.rounds = batch, rounds
        self.client = openai.OpenAI(
            api_key="bench", base_url="https://api.openai.com/v1", max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(_answer)),
        )
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(BatchSpanProcessor(DropSpans()))
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        self.instrumentor = OpenAIInstrumentor()

    def instrument(self, metrics: bool) -> None:
        meter_provider = self.meter_provider if metrics else NoOpMeterProvider()
        self.instrumentor.instrument(tracer_provider=self.tracer_provider, meter_provider=meter_provider,
                                     settings=Settings(record_metrics=metrics))

    # --- 1. end to end --------------------------------------------------------------

    def plain_call(self) -> None:
        self.client.chat.completions.create(model=MODEL, messages=MESSAGES)

    def streamed_call(self) -> None:
        for _ in self.client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
            pass

    def end_to_end(self, call, metrics: bool) -> tuple[float, float]:
        """(median µs per uninstrumented call, median µs added), alternating batches."""
        _timed(call, 100)  # warm-up: imports, pools, caches
        off, added = [], []
        for _ in range(self.rounds):
            baseline = _timed(call, self.batch)
            self.instrument(metrics)
            try:
                instrumented = _timed(call, self.batch)
            finally:
                self.instrumentor.uninstrument()
            off.append(baseline)
            added.append(instrumented - baseline)
        return statistics.median(off), statistics.median(added)

    # --- 2. the instrumentation alone ------------------------------------------------

    def isolated(self, streamed: bool, metrics: bool) -> float:
        completion = self.client._process_response_data(
            data=json.loads(COMPLETION), cast_to=ChatCompletion, response=None)
        body = {"model": MODEL, "messages": MESSAGES, "stream": streamed}
        options = FinalRequestOptions.construct(method="post", url="/chat/completions", json_data=body)
        request = httpx2.Request("POST", "https://api.openai.com/v1/chat/completions")

        # The stream's chunks, parsed once up front: parsing is the SDK's cost, not ours.
        chunks = [self.client._process_response_data(data=json.loads(line[len(b"data: "):]),
                                                     cast_to=ChatCompletionChunk, response=None)
                  for line in STREAM.split(b"\n\n") if line.startswith(b"data: {")]

        def sdk_request(*args, **kwargs):  # what the SDK's request() would hand back
            if not streamed:
                return completion
            response = httpx2.Response(200, content=b"", request=request)
            stream = openai.Stream(cast_to=ChatCompletionChunk, response=response, client=self.client)
            stream._iterator = iter(chunks)
            return stream

        def consume(result):
            if streamed:
                for _ in result:
                    pass

        args, kwargs = (ChatCompletion, options), {"stream": streamed}
        self.instrument(metrics)
        try:
            traced = self.instrumentor._patches.traced_request
            plain = lambda: consume(sdk_request(*args, **kwargs))  # noqa: E731
            wrapped = lambda: consume(traced(sdk_request, self.client, args, kwargs))  # noqa: E731
            _timed(wrapped, 200)
            calls = self.batch * 20
            differences = [_timed(wrapped, calls) - _timed(plain, calls) for _ in range(self.rounds // 4 + 1)]
        finally:
            self.instrumentor.uninstrument()
        return statistics.median(differences)

    def sdk_span_cost(self) -> float:
        tracer = self.tracer_provider.get_tracer("bench")
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                      "gen_ai.request.model": MODEL, "server.address": "api.openai.com", "server.port": 443,
                      "gen_ai.request.stream": False}
        start = tracer.start_span
        return statistics.median(
            _timed(lambda: start("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=attributes).end(),
                   self.batch * 20)
            for _ in range(self.rounds // 4 + 1))

    def close(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def _provider_cases():
    """(name, call kind, instrumentor, (module, "Class.method") patched, one real call) for part 3.

    Each real call goes to the test suite's fake server on loopback, once, to record what
    the patched method receives and returns; the timed calls then use that recording."""
    import boto3
    import cohere
    from botocore.config import Config
    from google import genai
    from google.genai import types
    from mistralai.client import Mistral

    from fake_bedrock import FakeBedrock
    from fake_cohere import FakeCohere
    from fake_gemini import FakeGemini
    from fake_mistral import FakeMistral
    from llmledger.instrumentation.bedrock import BedrockInstrumentor
    from llmledger.instrumentation.cohere import CohereInstrumentor
    from llmledger.instrumentation.google_genai import GoogleGenAIInstrumentor
    from llmledger.instrumentation.mistral import MistralInstrumentor

    fakes = [FakeGemini().start(), FakeBedrock().start(), FakeMistral().start(), FakeCohere().start()]
    gemini_fake, bedrock_fake, mistral_fake, cohere_fake = fakes
    gemini = genai.Client(api_key="bench", http_options=types.HttpOptions(
        base_url=gemini_fake.base_url, retry_options=types.HttpRetryOptions(attempts=1)))
    bedrock = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=bedrock_fake.base_url,
                           aws_access_key_id="AKIDBENCH", aws_secret_access_key="secret",
                           config=Config(retries={"total_max_attempts": 1}))
    mistral = Mistral(api_key="bench", server_url=mistral_fake.base_url)
    # Made at each call: a cohere client binds its chat methods when it is created.
    co = lambda: cohere.ClientV2(api_key="bench", base_url=cohere_fake.base_url, max_retries=0)  # noqa: E731
    model, ask = "us.anthropic.claude-sonnet-4-20250514-v1:0", [{"role": "user", "content": [{"text": "Hi"}]}]
    genai_client, botocore_client = "google.genai._api_client", "botocore.client"
    cases = (
        ("google-genai", "non-streamed", GoogleGenAIInstrumentor(), (genai_client, "BaseApiClient.request"),
         lambda: gemini.models.generate_content(model="gemini-2.5-flash", contents="Hi")),
        ("google-genai", "streamed", GoogleGenAIInstrumentor(), (genai_client, "BaseApiClient.request_streamed"),
         lambda: list(gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"))),
        ("bedrock", "non-streamed", BedrockInstrumentor(), (botocore_client, "BaseClient._make_api_call"),
         lambda: bedrock.converse(modelId=model, messages=ask)),
        ("bedrock", "streamed", BedrockInstrumentor(), (botocore_client, "BaseClient._make_api_call"),
         lambda: list(bedrock.converse_stream(modelId=model, messages=ask)["stream"])),
        ("mistralai", "non-streamed", MistralInstrumentor(), ("mistralai.client.chat", "Chat.complete"),
         lambda: mistral.chat.complete(model="mistral-large-2411", messages=MESSAGES)),
        ("mistralai", "streamed", MistralInstrumentor(), ("mistralai.client.chat", "Chat.stream"),
         lambda: list(mistral.chat.stream(model="mistral-large-2411", messages=MESSAGES))),
        ("cohere", "non-streamed", CohereInstrumentor(), ("cohere.v2.client", "V2Client.chat"),
         lambda: co().chat(model="command-r-08-2024", messages=MESSAGES)),
        ("cohere", "streamed", CohereInstrumentor(), ("cohere.v2.client", "V2Client.chat_stream"),
         lambda: list(co().chat_stream(model="command-r-08-2024", messages=MESSAGES))),
    )
    return cases, fakes


def _recorded(target: tuple[str, str], real_call, streamed: bool) -> tuple:
    """(instance, args, kwargs, result, items) of the first call of `target` during `real_call()`;
    `items` are the chunks of a streamed result (None for a whole one)."""
    import importlib

    module, name = target
    owner = importlib.import_module(module)
    cls_name, method = name.split(".")
    cls = getattr(owner, cls_name)
    original = cls.__dict__[method]
    seen: list = []

    def recorder(wrapped, instance, args, kwargs):
        result = wrapped(*args, **kwargs)
        if seen:
            return result
        items = None
        if streamed:
            items = list(result["stream"] if isinstance(result, dict) else result)
        seen.append((instance, args, kwargs, result, items))
        if items is None:
            return result
        return {**result, "stream": iter(items)} if isinstance(result, dict) else iter(items)

    wrapt.wrap_function_wrapper(module, name, recorder)
    try:
        real_call()
    finally:
        setattr(cls, method, original)
    return seen[0]


def providers_isolated(bench: Bench, scaled) -> None:
    print("\n3. Other providers, the instrumentation alone (spans + metrics), µs added per call")
    print(f"   {'provider':<14}{'call':<14}{'added':>18}")
    cases, fakes = _provider_cases()
    try:
        for name, kind, instrumentor, target, real_call in cases:
            instance, args, kwargs, result, items = _recorded(target, real_call, kind == "streamed")

            def sdk_method(*_args, **_kwargs):  # what the patched method would hand back
                if items is None:
                    return result
                return {**result, "stream": iter(items)} if isinstance(result, dict) else iter(items)

            def consume(answer):
                stream = answer.get("stream") if isinstance(answer, dict) else answer
                if items is not None:
                    for _ in stream:
                        pass

            instrumentor.instrument(tracer_provider=bench.tracer_provider, meter_provider=bench.meter_provider,
                                    settings=Settings())
            try:
                module, method = target
                cls_name, attribute = method.split(".")
                traced = vars(getattr(__import__(module, fromlist=[cls_name]), cls_name))[attribute]._self_wrapper
                plain = lambda: consume(sdk_method(*args, **kwargs))  # noqa: E731
                wrapped = lambda: consume(traced(sdk_method, instance, args, kwargs))  # noqa: E731
                _timed(wrapped, 200)
                calls = bench.batch * 20
                added = statistics.median(_timed(wrapped, calls) - _timed(plain, calls)
                                          for _ in range(bench.rounds // 4 + 1))
            finally:
                instrumentor.uninstrument()
            print(f"   {name:<14}{kind:<14}{scaled(added):>18}")
    finally:
        for fake in fakes:
            fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=50, help="calls per timed batch")
    parser.add_argument("--rounds", type=int, default=41, help="alternating batch pairs per figure")
    args = parser.parse_args()
    bench = Bench(args.batch, args.rounds)
    span = bench.sdk_span_cost()

    def scaled(added: float) -> str:
        return f"{added:>6.0f} µs ({added / span:>4.1f}x)"

    print(f"openai {openai.__version__}; CPU time, medians; (Nx) = N times the OTel SDK's own span cost\n")
    print("1. End to end, real SDK on a mock transport, µs per call")
    print(f"   {'call':<21}{'uninstrumented':>15}{'added':>18}{'added, no metrics':>22}")
    for name, call in (("non-streamed", bench.plain_call), ("streamed (6 chunks)", bench.streamed_call)):
        off, added = bench.end_to_end(call, metrics=True)
        _, added_without_metrics = bench.end_to_end(call, metrics=False)
        print(f"   {name:<21}{off:>12.0f} µs{scaled(added):>18}{scaled(added_without_metrics):>22}")

    print("\n2. The instrumentation alone, µs added per call")
    print(f"   {'call':<21}{'spans + metrics':>18}{'spans only':>18}")
    for name, streamed in (("non-streamed", False), ("streamed (6 chunks)", True)):
        with_metrics = bench.isolated(streamed, metrics=True)
        spans_only = bench.isolated(streamed, metrics=False)
        print(f"   {name:<21}{scaled(with_metrics):>18}{scaled(spans_only):>18}")

    providers_isolated(bench, scaled)

    print(f"\nThe OTel SDK alone, one span with 6 attributes: {span:.1f} µs")
    print("'no metrics' / 'spans only': with OTEL_METRICS_EXPORTER=none, no GenAI metrics are recorded.")
    bench.close()


if __name__ == "__main__":
    main()
