"""The Mistral instrumentor: the real mistralai SDK against a local server speaking
Mistral's wire format, the real OTel SDK collecting spans and metrics in memory, and
the processor's own pricing of those spans.

Costs are worked by hand from Mistral's published prices (per 1M tokens):
mistral-large-2411 2.00 in / 6.00 out; mistral-small-latest 0.15 in / 0.60 out, cached
prompt tokens at 10% of the input price (0.015); mistral-embed 0.10 in.
"""
from __future__ import annotations

import asyncio
import gc
from decimal import Decimal

import pytest
from mistralai.client import Mistral
from mistralai.client import errors as mistral_errors
from opentelemetry.trace import SpanKind, StatusCode

from budget_and_cost import budget_decision, priced
from fake_mistral import EmbeddingReply, FakeMistral, MistralReply, mistral_error
from llmledger.instrumentation import attribute, budget
from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation.mistral import MistralInstrumentor

HELLO = [{"role": "user", "content": "Hello"}]
# 10,000 prompt tokens of which 6,000 cached; 500 completion tokens.
CACHED_USAGE = {"prompt_tokens": 10_000, "completion_tokens": 500, "total_tokens": 10_500,
                "prompt_tokens_details": {"cached_tokens": 6_000}}
# mistral-small-latest: 4,000 × 0.15/1M = 0.0006, 6,000 × 0.015/1M = 0.00009, 500 × 0.60/1M = 0.0003 → 0.00099
CACHED_COST = Decimal("0.00099")
# mistral-large-2411, 1,000 in and 200 out: 1,000 × 2/1M = 0.002, 200 × 6/1M = 0.0012 → 0.0032
LARGE_USAGE = {"prompt_tokens": 1_000, "completion_tokens": 200, "total_tokens": 1_200}
LARGE_COST = Decimal("0.0032")


@pytest.fixture
def fake():
    with FakeMistral() as server:
        yield server


@pytest.fixture
def instrumented(otel):
    instrumentor = MistralInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider,
                            settings=Settings())
    yield instrumentor
    instrumentor.uninstrument()


def client_for(fake) -> Mistral:
    return Mistral(api_key="test-key", server_url=fake.base_url)


def test_complete_records_a_client_span_with_cached_tokens(otel, fake, instrumented):
    fake.queue(MistralReply(usage=CACHED_USAGE, model="mistral-small-2603", reply_id="cmpl-1", finish_reason="length"))
    response = client_for(fake).chat.complete(model="mistral-small-latest", messages=HELLO, max_tokens=500,
                                              temperature=0.3, random_seed=7)

    assert response.usage.prompt_tokens == 10_000
    [span] = otel.spans()
    assert span.name == "chat mistral-small-latest"
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "mistral_ai",
        "gen_ai.request.model": "mistral-small-latest",
        "gen_ai.request.stream": False,
        "gen_ai.request.max_tokens": 500,
        "gen_ai.request.temperature": 0.3,
        "gen_ai.request.seed": 7,
        "server.address": "127.0.0.1",
        "server.port": fake.port,
        "gen_ai.response.id": "cmpl-1",
        "gen_ai.response.model": "mistral-small-2603",
        "gen_ai.response.finish_reasons": ("length",),
        "gen_ai.usage.input_tokens": 10_000,
        "gen_ai.usage.output_tokens": 500,
        "gen_ai.usage.cache_read.input_tokens": 6_000,
    }
    [call] = priced([span])
    assert (call.provider, call.cost) == ("mistral_ai", CACHED_COST)
    by_type = {p.attributes["gen_ai.token.type"]: p.sum for p in otel.metric_points("gen_ai.client.token.usage")}
    assert by_type == {"input": 10_000, "output": 500}


def test_async_complete(otel, fake, instrumented):
    fake.queue(MistralReply(usage=LARGE_USAGE))
    asyncio.run(client_for(fake).chat.complete_async(model="mistral-large-2411", messages=HELLO))

    [span] = otel.spans()
    assert span.attributes["gen_ai.request.stream"] is False
    assert priced([span])[0].cost == LARGE_COST


def test_stream_sync_and_async_read_the_usage_of_the_last_chunk(otel, fake, instrumented):
    fake.queue(MistralReply(usage=LARGE_USAGE, chunks=4), MistralReply(usage=LARGE_USAGE, chunks=2))
    client = client_for(fake)
    texts = [event.data.choices[0].delta.content
             for event in client.chat.stream(model="mistral-large-2411", messages=HELLO)]

    async def main():
        stream = await client.chat.stream_async(model="mistral-large-2411", messages=HELLO)
        async with stream:
            return [event async for event in stream]

    assert "".join(texts) == "Hello from the fake."
    assert len(asyncio.run(main())) == 2
    for span in otel.spans():
        assert span.attributes["gen_ai.request.stream"] is True
        assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
            1_000, 200)
        assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
        assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert [call.cost for call in priced(otel.spans())] == [LARGE_COST, LARGE_COST]


def test_a_stream_left_early_ends_once_without_guessing_usage(otel, fake, instrumented):
    fake.queue(MistralReply(chunks=4))
    for event in client_for(fake).chat.stream(model="mistral-large-2411", messages=HELLO):
        break
    gc.collect()

    [span] = otel.spans()
    assert span.attributes["gen_ai.response.id"] == "cmpl-fake-0001"
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert priced([span])[0].unpriced is True  # no usage: stored unpriced, never priced at 0


def test_a_stream_closed_with_its_context_manager_ends_once(otel, fake, instrumented):
    fake.queue(MistralReply(chunks=4))
    with client_for(fake).chat.stream(model="mistral-large-2411", messages=HELLO) as stream:
        next(iter(stream))
    [span] = otel.spans()
    assert span.status.status_code is not StatusCode.ERROR


def test_a_broken_stream_fails_the_span(otel, fake, instrumented):
    fake.queue(MistralReply(chunks=3, fail_after_first_chunk=True))
    with pytest.raises(Exception) as raised:
        for _ in client_for(fake).chat.stream(model="mistral-large-2411", messages=HELLO):
            pass

    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__


def test_http_errors_end_the_span_with_the_error_type(otel, fake, instrumented):
    fake.queue(mistral_error(429, "rate limited"))
    with pytest.raises(mistral_errors.SDKError):
        client_for(fake).chat.complete(model="mistral-large-2411", messages=HELLO)

    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "SDKError"
    [duration] = otel.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "SDKError"


def test_embeddings_sync_and_async(otel, fake, instrumented):
    fake.queue(EmbeddingReply(prompt_tokens=5_000, vectors=2), EmbeddingReply(prompt_tokens=3))
    client = client_for(fake)
    client.embeddings.create(model="mistral-embed", inputs=["first", "second"])
    asyncio.run(client.embeddings.create_async(model="mistral-embed", inputs="third"))

    spans = otel.spans()
    assert [s.name for s in spans] == ["embeddings mistral-embed"] * 2
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in spans] == [5_000, 3]
    # 5,000 × 0.10/1M = 0.0005
    assert priced(spans[:1])[0].cost == Decimal("0.0005")


def test_attribution_and_content_capture(otel, fake):
    instrumentor = MistralInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, settings=Settings(capture_content=True))
    try:
        with attribute(user="u-3", feature="triage"):
            client_for(fake).chat.complete(model="mistral-large-2411", messages=HELLO)
    finally:
        instrumentor.uninstrument()
    [span] = otel.spans()
    assert (span.attributes["user.id"], span.attributes["llmledger.feature"]) == ("u-3", "triage")
    assert span.attributes["gen_ai.input.messages"] == '[{"role":"user","parts":[{"type":"text","content":"Hello"}]}]'
    assert span.attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"Hello from the fake."}],"finish_reason":"stop"}]')


def test_budget_refusal_before_sending_and_degrade_to_the_fallback_model(otel, fake, instrumented):
    client = client_for(fake)
    with budget_decision({"decision": "deny", "budget_id": "mistral-cap", "retry_after": 60}):
        with pytest.raises(budget.BudgetExceededError):
            client.chat.complete(model="mistral-large-2411", messages=HELLO)
        with pytest.raises(budget.BudgetExceededError):
            asyncio.run(client.chat.stream_async(model="mistral-large-2411", messages=HELLO))
    assert fake.requests == []
    with budget_decision({"decision": "degrade", "fallback_model": "mistral-small-latest"}):
        client.chat.complete(model="mistral-large-2411", messages=HELLO)
        list(client.chat.stream(model="mistral-large-2411", messages=HELLO))
    assert [r.body["model"] for r in fake.requests] == ["mistral-small-latest"] * 2
    refused, refused_stream, degraded, degraded_stream = otel.spans()
    assert refused.attributes["error.type"] == refused_stream.attributes["error.type"] == "BudgetExceededError"
    assert degraded.attributes["gen_ai.request.model"] == degraded_stream.attributes["gen_ai.request.model"] == (
        "mistral-small-latest")


def test_uninstrument_stops_tracing(otel, fake, instrumented):
    instrumented.uninstrument()
    client_for(fake).chat.complete(model="mistral-large-2411", messages=HELLO)
    client_for(fake).embeddings.create(model="mistral-embed", inputs=["x"])
    assert otel.spans() == []
    instrumented.instrument(tracer_provider=otel.tracer_provider, settings=Settings())
