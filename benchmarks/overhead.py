"""How much time llmledger's instrumentation adds to one SDK call.

    python benchmarks/overhead.py [--batch 50] [--rounds 41] [--provider-rounds 15]

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
3. The other providers end to end: the real `google-genai`, `boto3` (Bedrock
   Converse), `mistralai` and `cohere` SDKs against the test suite's fake servers
   on loopback (tests/instrumentation/fake_*.py, in this process), a non-streamed
   and a streamed call (3 chunks) each, alternating uninstrumented and
   instrumented batches as in 1. Loopback HTTP costs more than a mock transport,
   so these figures carry more noise (tens of µs).

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


def _provider_calls():
    """(name, instrumentor, fake server, non-streamed call, streamed call) for part 3, each
    fake started; the SDK clients are built here, outside the timed calls."""
    import boto3
    import cohere
    from botocore.config import Config
    from google import genai
    from google.genai import types
    from mistralai.client import Mistral

    from fake_bedrock import FakeBedrock
    from fake_cohere import FakeCohere
    from fake_gemini import FakeGemini, GeminiReply
    from fake_mistral import FakeMistral
    from llmledger.instrumentation.bedrock import BedrockInstrumentor
    from llmledger.instrumentation.cohere import CohereInstrumentor
    from llmledger.instrumentation.google_genai import GoogleGenAIInstrumentor
    from llmledger.instrumentation.mistral import MistralInstrumentor

    gemini_fake = FakeGemini().start()
    gemini_fake.default_reply = GeminiReply(model_version="gemini-2.5-flash")
    gemini = genai.Client(api_key="bench", http_options=types.HttpOptions(
        base_url=gemini_fake.base_url, retry_options=types.HttpRetryOptions(attempts=1)))
    bedrock_fake = FakeBedrock().start()
    bedrock = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=bedrock_fake.base_url,
                           aws_access_key_id="AKIDBENCH", aws_secret_access_key="secret",
                           config=Config(retries={"total_max_attempts": 1}))
    mistral_fake = FakeMistral().start()
    mistral = Mistral(api_key="bench", server_url=mistral_fake.base_url)
    cohere_fake = FakeCohere().start()
    co = cohere.ClientV2(api_key="bench", base_url=cohere_fake.base_url, max_retries=0)
    bedrock_model, ask = "us.anthropic.claude-sonnet-4-20250514-v1:0", [{"role": "user", "content": [{"text": "Hi"}]}]

    def drain(stream) -> None:
        for _ in stream:
            pass

    return (
        ("google-genai", GoogleGenAIInstrumentor(), gemini_fake,
         lambda: gemini.models.generate_content(model="gemini-2.5-flash", contents="Hi"),
         lambda: drain(gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"))),
        ("bedrock", BedrockInstrumentor(), bedrock_fake,
         lambda: bedrock.converse(modelId=bedrock_model, messages=ask),
         lambda: drain(bedrock.converse_stream(modelId=bedrock_model, messages=ask)["stream"])),
        ("mistralai", MistralInstrumentor(), mistral_fake,
         lambda: mistral.chat.complete(model="mistral-large-2411", messages=MESSAGES),
         lambda: drain(mistral.chat.stream(model="mistral-large-2411", messages=MESSAGES))),
        ("cohere", CohereInstrumentor(), cohere_fake,
         lambda: co.chat(model="command-r-08-2024", messages=MESSAGES),
         lambda: drain(co.chat_stream(model="command-r-08-2024", messages=MESSAGES))),
    )


def providers_end_to_end(bench: Bench, rounds: int, scaled) -> None:
    print("\n3. Other providers end to end, real SDK against a loopback fake server, µs per call")
    print(f"   {'provider':<14}{'call':<14}{'uninstrumented':>15}{'added':>18}")
    saved = bench.instrumentor, bench.rounds
    bench.rounds = rounds
    try:
        for name, instrumentor, fake, plain, streamed in _provider_calls():
            bench.instrumentor = instrumentor  # end_to_end instruments and uninstruments it
            try:
                for kind, call in (("non-streamed", plain), ("streamed", streamed)):
                    off, added = bench.end_to_end(call, metrics=True)
                    print(f"   {name:<14}{kind:<14}{off:>12.0f} µs{scaled(added):>18}")
            finally:
                fake.stop()
    finally:
        bench.instrumentor, bench.rounds = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=50, help="calls per timed batch")
    parser.add_argument("--rounds", type=int, default=41, help="alternating batch pairs per figure")
    parser.add_argument("--provider-rounds", type=int, default=15,
                        help="alternating batch pairs per figure of part 3 (0 skips it)")
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

    if args.provider_rounds:
        providers_end_to_end(bench, args.provider_rounds, scaled)

    print(f"\nThe OTel SDK alone, one span with 6 attributes: {span:.1f} µs")
    print("'no metrics' / 'spans only': with OTEL_METRICS_EXPORTER=none, no GenAI metrics are recorded.")
    bench.close()


if __name__ == "__main__":
    main()
