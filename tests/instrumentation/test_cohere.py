"""The Cohere instrumentor: the real cohere SDK (v2 API) against a local server speaking
Cohere's wire format, the real OTel SDK collecting spans and metrics in memory, and the
processor's own pricing of those spans.

Costs are worked by hand from Cohere's published prices (per 1M tokens):
command-a-03-2025 2.50 in / 10.00 out; command-r-08-2024 0.15 / 0.60; embed-v4.0 0.12 in.
"""
from __future__ import annotations

import asyncio
import gc
from decimal import Decimal

import cohere
import pytest
import wrapt
from opentelemetry.trace import SpanKind, StatusCode

from budget_and_cost import budget_decision, priced
from fake_cohere import CohereReply, EmbedReply, FakeCohere, cohere_error
from llmledger.instrumentation import attribute, budget
from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation.cohere import CohereInstrumentor

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def fake():
    with FakeCohere() as server:
        yield server


@pytest.fixture
def instrumented(otel):
    instrumentor = CohereInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider,
                            settings=Settings())
    yield instrumentor
    instrumentor.uninstrument()


def client_for(fake) -> cohere.ClientV2:
    return cohere.ClientV2(api_key="test-key", base_url=fake.base_url, max_retries=0)


def async_client_for(fake) -> cohere.AsyncClientV2:
    return cohere.AsyncClientV2(api_key="test-key", base_url=fake.base_url, max_retries=0)


def test_chat_records_the_billed_tokens(otel, fake, instrumented):
    # Cohere bills 2,000 in / 300 out; its raw counts include the prompt it adds itself.
    fake.queue(CohereReply(billed=(2_000, 300), raw_tokens=(2_150, 300), cached_tokens=1_024, reply_id="c-1",
                           finish_reason="MAX_TOKENS"))
    response = client_for(fake).chat(model="command-a-03-2025", messages=HELLO, max_tokens=300, temperature=0.3,
                                     p=0.9, k=40, stop_sequences=["END"])

    assert response.usage.tokens.input_tokens == 2_150
    [span] = otel.spans()
    assert span.name == "chat command-a-03-2025"
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "cohere",
        "gen_ai.request.model": "command-a-03-2025",
        "gen_ai.request.stream": False,
        "gen_ai.request.max_tokens": 300,
        "gen_ai.request.temperature": 0.3,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 40,
        "gen_ai.request.stop_sequences": ("END",),
        "server.address": "127.0.0.1",
        "server.port": fake.port,
        "gen_ai.response.id": "c-1",
        "gen_ai.response.finish_reasons": ("MAX_TOKENS",),
        "gen_ai.usage.input_tokens": 2_000,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 1_024,
    }
    [call] = priced([span])
    # No cache price for command-a: all 2,000 input at 2.50/1M = 0.005; 300 × 10/1M = 0.003 → 0.008
    assert (call.model, call.cost) == ("command-a-03-2025", Decimal("0.008"))
    by_type = {p.attributes["gen_ai.token.type"]: p.sum for p in otel.metric_points("gen_ai.client.token.usage")}
    assert by_type == {"input": 2_000, "output": 300}


def test_async_chat(otel, fake, instrumented):
    fake.queue(CohereReply(billed=(1_000, 100)))
    asyncio.run(async_client_for(fake).chat(model="command-r-08-2024", messages=HELLO))

    [span] = otel.spans()
    # 1,000 × 0.15/1M + 100 × 0.60/1M = 0.00015 + 0.00006 = 0.00021
    assert priced([span])[0].cost == Decimal("0.00021")


def test_chat_stream_sync_and_async(otel, fake, instrumented):
    fake.queue(CohereReply(billed=(1_000, 100), chunks=4), CohereReply(billed=(1_000, 100), chunks=2))
    events = [event.type for event in client_for(fake).chat_stream(model="command-r-08-2024", messages=HELLO)]

    async def main():
        return [event async for event in async_client_for(fake).chat_stream(model="command-r-08-2024",
                                                                             messages=HELLO)]

    assert events[0] == "message-start" and events[-1] == "message-end"
    assert len(asyncio.run(main())) == 6
    for span in otel.spans():
        assert span.attributes["gen_ai.request.stream"] is True
        assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
            1_000, 100)
        assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert [call.cost for call in priced(otel.spans())] == [Decimal("0.00021")] * 2


def test_a_stream_left_early_ends_once_without_guessing_usage(otel, fake, instrumented):
    for event in client_for(fake).chat_stream(model="command-r-08-2024", messages=HELLO):
        break
    gc.collect()

    [span] = otel.spans()
    assert span.attributes["gen_ai.response.id"] == "chat-fake-0001"
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert span.status.status_code is not StatusCode.ERROR


def test_an_async_stream_left_early_ends_once(otel, fake, instrumented):
    async def main():
        stream = async_client_for(fake).chat_stream(model="command-r-08-2024", messages=HELLO)
        async for event in stream:
            break
        await stream.aclose()

    asyncio.run(main())
    [span] = otel.spans()
    assert "gen_ai.usage.input_tokens" not in span.attributes


def test_an_error_reported_at_the_end_of_a_stream_fails_the_span(otel, fake, instrumented):
    fake.queue(CohereReply(stream_error="the model failed to generate"))
    list(client_for(fake).chat_stream(model="command-r-08-2024", messages=HELLO))

    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "generation_error"
    assert span.attributes["gen_ai.usage.input_tokens"] == 12  # what Cohere billed for it still counts


def test_http_errors_end_the_span_with_the_error_type(otel, fake, instrumented):
    fake.queue(cohere_error(429, "too many requests"))
    with pytest.raises(cohere.TooManyRequestsError):
        client_for(fake).chat(model="command-r-08-2024", messages=HELLO)
    fake.queue(cohere_error(500))
    with pytest.raises(cohere.InternalServerError):
        list(client_for(fake).chat_stream(model="command-r-08-2024", messages=HELLO))

    refused, failed_stream = otel.spans()
    assert refused.status.status_code is StatusCode.ERROR
    assert refused.attributes["error.type"] == "TooManyRequestsError"
    assert failed_stream.attributes["error.type"] == "InternalServerError"


def test_embed_sync_and_async_and_an_unpriced_model(otel, fake, instrumented):
    fake.queue(EmbedReply(billed_input_tokens=5_000, vectors=2), EmbedReply(billed_input_tokens=40))
    client_for(fake).embed(model="embed-v4.0", texts=["a", "b"], input_type="search_document",
                           embedding_types=["float"])
    asyncio.run(async_client_for(fake).embed(model="embed-english-v3.0", texts=["c"], input_type="search_query",
                                             embedding_types=["float"]))

    priced_embed, unpriced_embed = priced(otel.spans())
    assert otel.spans()[0].name == "embeddings embed-v4.0"
    assert otel.spans()[0].attributes["gen_ai.request.encoding_formats"] == ("float",)
    # 5,000 × 0.12/1M = 0.0006
    assert (priced_embed.input_tokens, priced_embed.cost) == (5_000, Decimal("0.0006"))
    # The catalog has no price for embed-english-v3.0: stored with its tokens, flagged, never priced at 0.
    assert (unpriced_embed.input_tokens, unpriced_embed.unpriced, unpriced_embed.cost) == (40, True, None)


def test_attribution_and_content_capture(otel, fake):
    instrumentor = CohereInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, settings=Settings(capture_content=True))
    try:
        with attribute(user="u-9", tenant="acme"):
            client_for(fake).chat(model="command-r-08-2024", messages=HELLO)
    finally:
        instrumentor.uninstrument()
    [span] = otel.spans()
    assert (span.attributes["user.id"], span.attributes["llmledger.tenant"]) == ("u-9", "acme")
    assert span.attributes["gen_ai.input.messages"] == '[{"role":"user","parts":[{"type":"text","content":"Hello"}]}]'
    assert span.attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"Hello from the fake."}],"finish_reason":"COMPLETE"}]')


def test_budget_refusal_before_sending_and_degrade_to_the_fallback_model(otel, fake, instrumented):
    client = client_for(fake)

    async def stream_async():
        return [event async for event in async_client_for(fake).chat_stream(model="command-a-03-2025",
                                                                             messages=HELLO)]

    with budget_decision({"decision": "deny", "budget_id": "cohere-cap", "retry_after": 60}):
        with pytest.raises(budget.BudgetExceededError):
            client.chat(model="command-a-03-2025", messages=HELLO)
        with pytest.raises(budget.BudgetExceededError):
            asyncio.run(stream_async())
    assert fake.requests == []
    with budget_decision({"decision": "degrade", "fallback_model": "command-r-08-2024"}):
        client.chat(model="command-a-03-2025", messages=HELLO)
        asyncio.run(stream_async())
    assert [r.body["model"] for r in fake.requests] == ["command-r-08-2024"] * 2
    refused, refused_stream, degraded, degraded_stream = otel.spans()
    assert refused.attributes["error.type"] == refused_stream.attributes["error.type"] == "BudgetExceededError"
    assert degraded.attributes["gen_ai.request.model"] == degraded_stream.attributes["gen_ai.request.model"] == (
        "command-r-08-2024")


def test_uninstrument_stops_tracing(otel, fake, instrumented):
    instrumented.uninstrument()
    client_for(fake).chat(model="command-r-08-2024", messages=HELLO)
    list(client_for(fake).chat_stream(model="command-r-08-2024", messages=HELLO))
    assert otel.spans() == []
    instrumented.instrument(tracer_provider=otel.tracer_provider, settings=Settings())


def test_a_method_another_instrumentation_wraps_is_left_to_it(otel, fake, caplog):
    from cohere.v2.client import V2Client

    def other_tool(wrapped, instance, args, kwargs):
        return wrapped(*args, **kwargs)

    original = V2Client.__dict__["chat"]
    wrapt.wrap_function_wrapper("cohere.v2.client", "V2Client.chat", other_tool)
    instrumentor = CohereInstrumentor()
    try:
        instrumentor.instrument(tracer_provider=otel.tracer_provider, settings=Settings())
        client_for(fake).chat(model="command-r-08-2024", messages=HELLO)
        list(client_for(fake).chat_stream(model="command-r-08-2024", messages=HELLO))
    finally:
        instrumentor.uninstrument()
        V2Client.chat = original
    [streamed] = otel.spans()  # chat is left to the other tool, chat_stream is still ours
    assert streamed.attributes["gen_ai.request.stream"] is True
    assert "is already tracing cohere.v2.client.V2Client.chat" in caplog.text
