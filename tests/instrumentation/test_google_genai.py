"""The Google Gen AI instrumentor: the real google-genai SDK against a local server
speaking the Gemini API's and Vertex AI's wire format, the real OTel SDK collecting
spans and metrics in memory, and the processor's own pricing of those spans.

Costs are worked by hand from Google's published prices (per 1M tokens):
gemini-2.5-flash 0.30 in / 0.03 cached in / 2.50 out (thinking is output);
gemini-2.5-pro 1.25 in / 10 out up to 200k prompt tokens, 2.50 / 15 above;
gemini-embedding-001 0.15 in.
"""
from __future__ import annotations

import asyncio
import gc
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from google import genai
from google.genai import errors, types
from google.oauth2.credentials import Credentials
from opentelemetry.trace import SpanKind, StatusCode

from budget_and_cost import budget_decision, priced
from fake_gemini import EmbeddingReply, FakeGemini, GeminiReply, google_error
from llmledger.instrumentation import attribute, budget
from llmledger.instrumentation._genai import Settings, Telemetry
from llmledger.instrumentation.google_genai import GoogleGenAIInstrumentor
from llmledger.instrumentation.google_genai.readers import StreamReader

# 10,000 prompt tokens of which 4,000 from cached content, 500 tool-use prompt tokens,
# 800 answer tokens and 1,200 thinking tokens.
THINKING_USAGE = {"promptTokenCount": 10_000, "cachedContentTokenCount": 4_000, "toolUsePromptTokenCount": 500,
                  "candidatesTokenCount": 800, "thoughtsTokenCount": 1_200, "totalTokenCount": 12_500}
# input 10,000 + 500 = 10,500 (4,000 cached); output 800 + 1,200 = 2,000:
#   6,500 × 0.30/1M = 0.00195, 4,000 × 0.03/1M = 0.00012, 2,000 × 2.50/1M = 0.005 → 0.00707
THINKING_COST = Decimal("0.00707")


@pytest.fixture
def fake():
    with FakeGemini() as server:
        yield server


@pytest.fixture
def instrumented(otel):
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider,
                            settings=Settings())
    yield instrumentor
    instrumentor.uninstrument()


_clients: list = []


def _keep(client: genai.Client) -> genai.Client:
    """The SDK closes its HTTP client when the `Client` is collected: tests that chain
    `gemini_client(fake).models...` need it kept alive."""
    _clients.append(client)
    return client


def options_for(fake) -> types.HttpOptions:
    return types.HttpOptions(base_url=fake.base_url, retry_options=types.HttpRetryOptions(attempts=1))


def gemini_client(fake) -> genai.Client:
    return _keep(genai.Client(api_key="test-key", http_options=options_for(fake)))


def vertex_client(fake) -> genai.Client:
    return _keep(genai.Client(vertexai=True, project="acme", location="us-central1", credentials=Credentials(token="t"),
                        http_options=options_for(fake)))


def test_generate_content_records_a_client_span_with_thinking_and_cache_tokens(otel, fake, instrumented):
    fake.queue(GeminiReply(usage=THINKING_USAGE, model_version="gemini-2.5-flash-001", response_id="r-1"))
    response = gemini_client(fake).models.generate_content(
        model="gemini-2.5-flash", contents="Hello",
        config=types.GenerateContentConfig(max_output_tokens=4000, temperature=0.2, top_k=40, stop_sequences=["END"]),
    )

    assert response.usage_metadata.prompt_token_count == 10_000  # the app's own object, untouched
    [span] = otel.spans()
    assert span.name == "generate_content gemini-2.5-flash"
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": "gemini-2.5-flash",
        "gen_ai.request.stream": False,
        "gen_ai.request.max_tokens": 4000,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_k": 40,
        "gen_ai.request.stop_sequences": ("END",),
        "server.address": "127.0.0.1",
        "server.port": fake.port,
        "gen_ai.response.id": "r-1",
        "gen_ai.response.model": "gemini-2.5-flash-001",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 10_500,
        "gen_ai.usage.output_tokens": 2_000,
        "gen_ai.usage.cache_read.input_tokens": 4_000,
        "gen_ai.usage.reasoning.output_tokens": 1_200,
    }
    [call] = priced([span])
    assert (call.provider, call.unpriced, call.cost) == ("gcp.gemini", False, THINKING_COST)
    assert call.cost_details == {"input": Decimal("0.00195"), "cache_read": Decimal("0.00012"),
                                 "output": Decimal("0.005")}

    by_type = {p.attributes["gen_ai.token.type"]: p for p in otel.metric_points("gen_ai.client.token.usage")}
    assert (by_type["input"].sum, by_type["output"].sum) == (10_500, 2_000)
    assert by_type["input"].attributes["gen_ai.provider.name"] == "gcp.gemini"
    [duration] = otel.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1


def test_long_context_is_priced_at_the_higher_tier(otel, fake, instrumented):
    fake.queue(GeminiReply(usage={"promptTokenCount": 250_000, "candidatesTokenCount": 1_000}))
    gemini_client(fake).models.generate_content(model="gemini-2.5-pro", contents="a long document")

    [call] = priced(otel.spans())
    # Above 200k prompt tokens every token pays the higher rate:
    #   250,000 × 2.50/1M = 0.625, 1,000 × 15/1M = 0.015 → 0.64
    assert call.cost == Decimal("0.64")


def test_vertex_ai_backend_and_async_client(otel, fake, instrumented):
    fake.queue(GeminiReply(usage={"promptTokenCount": 30, "candidatesTokenCount": 7}))

    async def main():
        return await vertex_client(fake).aio.models.generate_content(model="gemini-2.5-flash", contents="Hi")

    asyncio.run(main())
    assert "/projects/acme/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent" in (
        fake.requests[0].path)
    [span] = otel.spans()
    assert span.name == "generate_content gemini-2.5-flash"
    assert span.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (30, 7)
    [call] = priced([span])
    # 30 × 0.30/1M + 7 × 2.50/1M = 0.000009 + 0.0000175 = 0.0000265
    assert call.cost == Decimal("0.0000265")


def test_stream_reads_the_cumulative_usage_of_the_last_chunk(otel, fake, instrumented):
    fake.queue(GeminiReply(text="Hello there, friend", chunks=4, usage=THINKING_USAGE))
    texts = [chunk.text for chunk in gemini_client(fake).models.generate_content_stream(
        model="gemini-2.5-flash", contents="Hello")]

    assert "".join(texts) == "Hello there, friend"
    [span] = otel.spans()
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.input_tokens"] == 10_500
    assert span.attributes["gen_ai.usage.output_tokens"] == 2_000
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert priced([span])[0].cost == THINKING_COST
    [first_chunk] = otel.metric_points("gen_ai.client.operation.time_to_first_chunk")
    assert first_chunk.count == 1


def test_async_stream(otel, fake, instrumented):
    fake.queue(GeminiReply(chunks=3, usage={"promptTokenCount": 20, "candidatesTokenCount": 9}))

    async def main():
        stream = await gemini_client(fake).aio.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi")
        return [chunk.text async for chunk in stream]

    assert "".join(asyncio.run(main())) == "Hello from the fake."
    [span] = otel.spans()
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (20, 9)
    assert span.status.status_code is not StatusCode.ERROR


def test_a_stream_left_early_ends_once_with_the_usage_seen_so_far(otel, fake, instrumented):
    fake.queue(GeminiReply(text="one two three four", chunks=4, usage={"promptTokenCount": 50, "candidatesTokenCount": 4}))
    for chunk in gemini_client(fake).models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"):
        break
    gc.collect()

    [span] = otel.spans()  # ended exactly once, when the abandoned stream was dropped
    # The first chunk said: 50 prompt tokens, 1 answer token so far. Nothing is guessed beyond it.
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (50, 1)
    assert "gen_ai.response.finish_reasons" not in span.attributes
    assert span.status.status_code is not StatusCode.ERROR


def test_an_error_in_the_middle_of_a_stream_fails_the_span_once(otel, fake, instrumented):
    fake.queue(GeminiReply(chunks=3, error_after_first_chunk=True))
    with pytest.raises(errors.ServerError):
        for _ in gemini_client(fake).models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"):
            pass

    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ServerError"


def test_http_errors_end_the_span_with_the_error_type(otel, fake, instrumented):
    fake.queue(google_error(429, "quota exhausted"))
    with pytest.raises(errors.ClientError):
        gemini_client(fake).models.generate_content(model="gemini-2.5-flash", contents="Hi")

    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ClientError"
    assert "gen_ai.usage.input_tokens" not in span.attributes
    [duration] = otel.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "ClientError"


def test_embeddings_sync_and_async(otel, fake, instrumented):
    fake.queue(EmbeddingReply(vectors=2, usage={"promptTokenCount": 2_000}),
               EmbeddingReply(vectors=1, usage={"promptTokenCount": 10}))
    client = gemini_client(fake)
    client.models.embed_content(model="gemini-embedding-001", contents=["first", "second"])
    asyncio.run(client.aio.models.embed_content(model="gemini-embedding-001", contents="third"))

    spans = otel.spans()
    assert [s.name for s in spans] == ["embeddings gemini-embedding-001"] * 2
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in spans] == [2_000, 10]
    assert "gen_ai.request.stream" not in spans[0].attributes
    # 2,000 × 0.15/1M = 0.0003 (an embedding has no output to bill)
    assert priced(spans[:1])[0].cost == Decimal("0.0003")


def test_a_model_without_a_catalog_price_is_flagged_unpriced(otel, fake, instrumented):
    fake.queue(EmbeddingReply(usage={"promptTokenCount": 64}))
    gemini_client(fake).models.embed_content(model="text-embedding-004", contents="x")

    [call] = priced(otel.spans())
    assert (call.input_tokens, call.unpriced, call.cost) == (64, True, None)


def test_free_token_counting_gets_no_span(otel, fake, instrumented):
    with pytest.raises(errors.ClientError):  # the fake has no countTokens: the request did go out
        gemini_client(fake).models.count_tokens(model="gemini-2.5-flash", contents="Hi")
    assert fake.requests[0].path.endswith(":countTokens")
    assert otel.spans() == []


def test_attribution_of_the_context_rides_on_the_span(otel, fake, instrumented):
    with attribute(user="u-7", team="search", feature="answers"):
        gemini_client(fake).models.generate_content(model="gemini-2.5-flash", contents="Hi")
    [span] = otel.spans()
    assert (span.attributes["user.id"], span.attributes["llmledger.team"], span.attributes["llmledger.feature"]) == (
        "u-7", "search", "answers")


def test_content_capture_is_opt_in(otel, fake):
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, settings=Settings(capture_content=True))
    try:
        fake.queue(GeminiReply(text="Bonjour", thought="the user greets"))
        gemini_client(fake).models.generate_content(
            model="gemini-2.5-flash", contents="Hello",
            config=types.GenerateContentConfig(system_instruction="Answer in French"))
    finally:
        instrumentor.uninstrument()
    [span] = otel.spans()
    assert span.attributes["gen_ai.input.messages"] == '[{"role":"user","parts":[{"type":"text","content":"Hello"}]}]'
    assert span.attributes["gen_ai.system_instructions"] == '[{"type":"text","content":"Answer in French"}]'
    assert span.attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"reasoning","content":"the user greets"},'
        '{"type":"text","content":"Bonjour"}],"finish_reason":"stop"}]')


def test_budget_refusal_before_sending_and_degrade_to_the_fallback_model(otel, fake, instrumented):
    client = gemini_client(fake)
    with budget_decision({"decision": "deny", "budget_id": "gemini-cap", "retry_after": 60}):
        with pytest.raises(budget.BudgetExceededError):
            client.models.generate_content(model="gemini-2.5-pro", contents="Hi")
        with pytest.raises(budget.BudgetExceededError):  # the SDK's stream starts when iterated
            next(iter(client.models.generate_content_stream(model="gemini-2.5-pro", contents="Hi")))
    assert fake.requests == []  # refused before anything was sent
    with budget_decision({"decision": "degrade", "fallback_model": "gemini-2.5-flash"}):
        client.models.generate_content(model="gemini-2.5-pro", contents="Hi")
        asyncio.run(client.aio.models.generate_content(model="gemini-2.5-pro", contents="Hi"))
    assert [r.path for r in fake.requests] == ["/v1/models/gemini-2.5-flash:generateContent"] * 2

    refused, refused_stream, degraded, degraded_async = otel.spans()
    assert refused.attributes["error.type"] == refused_stream.attributes["error.type"] == "BudgetExceededError"
    assert degraded.attributes["gen_ai.request.model"] == degraded_async.attributes["gen_ai.request.model"] == (
        "gemini-2.5-flash")


def test_uninstrument_stops_tracing(otel, fake, instrumented):
    instrumented.uninstrument()
    gemini_client(fake).models.generate_content(model="gemini-2.5-flash", contents="Hi")
    list(gemini_client(fake).models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"))
    assert otel.spans() == []
    instrumented.instrument(tracer_provider=otel.tracer_provider, settings=Settings())  # for the fixture's teardown


def test_each_field_of_a_stream_comes_from_the_latest_chunk_that_has_it(otel):
    # The reader keeps the chunks and reads them when the call ends, from the last back:
    # a last chunk without usage or a service tier leaves those of an earlier one.
    telemetry = Telemetry("test", otel.tracer_provider, None, Settings(record_metrics=False))
    call = telemetry.start_call({"gen_ai.operation.name": "generate_content"})
    reader = StreamReader(capture_content=False)
    chunks = [
        {"responseId": "r-1", "modelVersion": "gemini-2.5-flash-001",
         "usageMetadata": {"promptTokenCount": 7, "serviceTier": "FLEX"}},
        {"responseId": "r-1", "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3}},
        {"candidates": [{"finishReason": "STOP"}]},
        {"candidates": [{"content": {"parts": [{"text": "no reason here"}]}}]},
    ]
    for chunk in chunks:
        reader(call, SimpleNamespace(body=json.dumps(chunk)))
    call.end()

    [span] = otel.spans()
    assert span.attributes["gen_ai.response.id"] == "r-1"
    assert span.attributes["gen_ai.response.model"] == "gemini-2.5-flash-001"
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (7, 3)
    assert span.attributes["gcp.gen_ai.response.service_tier"] == "flex"
