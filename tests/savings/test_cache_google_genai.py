"""The response cache inside the real google-genai SDK, against the local fake Gemini server:
a hit never reaches the provider and gives the app the SDK's own response objects (plain,
streamed, async), its span says what it saved, and only whole answers are kept.

gemini-2.5-flash costs 0.30 in / 2.50 out per 1M tokens (Google's published prices)."""
from __future__ import annotations

import asyncio
import gc
from decimal import Decimal

import pytest
from budget_and_cost import priced
from fake_gemini import EmbeddingReply, FakeGemini, GeminiReply, google_error
from google import genai
from google.genai import errors, types

from llmledger.instrumentation import attribute, cache
from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation._genai.cache.semantic import WordLlamaEmbedder
from llmledger.instrumentation.google_genai import GoogleGenAIInstrumentor

USAGE = {"promptTokenCount": 1000, "candidatesTokenCount": 200, "totalTokenCount": 1200}
# 1,000 x 0.30/1M = 0.0003; 200 x 2.50/1M = 0.0005 -> 0.0008
FLASH_COST = Decimal("0.0008")
GREEDY = types.GenerateContentConfig(temperature=0)


@pytest.fixture
def fake():
    with FakeGemini() as server:
        server.default_reply = GeminiReply(usage=USAGE)
        yield server


@pytest.fixture
def client(fake, otel):
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider,
                            settings=Settings())
    client = genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=fake.base_url, retry_options=types.HttpRetryOptions(attempts=1)))
    yield client
    instrumentor.uninstrument()


def _ask(client, contents="Hi", model="gemini-2.5-flash", config=GREEDY):
    return client.models.generate_content(model=model, contents=contents, config=config)


def _stream(client, contents="Hi", config=GREEDY):
    return client.models.generate_content_stream(model="gemini-2.5-flash", contents=contents, config=config)


def _content(response) -> dict:
    """What the app reads of a response (the HTTP headers aside)."""
    return response.model_dump(exclude={"sdk_http_response"})


def test_a_hit_never_reaches_the_provider_and_is_the_sdks_own_response(client, fake, otel):
    cache.enable()
    first = _ask(client)
    second = _ask(client)
    assert len(fake.requests) == 1
    assert type(second) is types.GenerateContentResponse and _content(second) == _content(first)
    assert second.text == "Hello from the fake." and second.usage_metadata.prompt_token_count == 1000
    miss, hit = otel.spans()
    found = dict(hit.attributes)
    assert "llmledger.cache.hit" not in miss.attributes
    assert found["llmledger.cache.hit"] is True and found["llmledger.cache.kind"] == "exact"
    assert found["llmledger.cache.source_span_id"] == format(miss.context.span_id, "016x")
    assert found["llmledger.cache.source_trace_id"] == format(miss.context.trace_id, "032x")
    for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.response.model",
                "gen_ai.response.id", "gen_ai.response.finish_reasons"):
        assert found[key] == miss.attributes[key], key
    paid, saved = priced([miss, hit], savings=True)
    assert (paid.cost, paid.saved_cost) == (FLASH_COST, None)
    assert saved.cost == 0 and saved.saved_cost == FLASH_COST and saved.saving_strategy == "exact_cache"


def test_a_streamed_hit_replays_the_same_chunks(client, fake, otel):
    cache.enable()
    first = [chunk for chunk in _stream(client)]
    second = [chunk for chunk in _stream(client)]
    assert len(fake.requests) == 1
    assert len(second) == 3 and [_content(c) for c in second] == [_content(c) for c in first]
    assert all(type(c) is types.GenerateContentResponse for c in second)
    assert "".join(c.text for c in second) == "Hello from the fake."
    hit = otel.spans()[-1]
    assert hit.attributes["llmledger.cache.hit"] is True and hit.attributes["gen_ai.request.stream"] is True
    assert priced([hit], savings=True)[0].saved_cost == FLASH_COST


def test_async_hits_plain_and_streamed(client, fake, otel):
    cache.enable()

    async def scenario():
        ask = dict(model="gemini-2.5-flash", contents="Hi", config=GREEDY)
        first = await client.aio.models.generate_content(**ask)
        second = await client.aio.models.generate_content(**ask)
        chunks = [c async for c in await client.aio.models.generate_content_stream(**ask)]
        again = [c async for c in await client.aio.models.generate_content_stream(**ask)]
        return first, second, chunks, again

    first, second, chunks, again = asyncio.run(scenario())
    assert _content(second) == _content(first) and [_content(c) for c in again] == [_content(c) for c in chunks]
    assert len(fake.requests) == 2  # a streamed answer is kept apart from a whole one
    assert [s.attributes.get("llmledger.cache.hit", False) for s in otel.spans()] == [False, True, False, True]


def test_a_different_request_misses(client, fake):
    cache.enable()
    _ask(client)
    _ask(client, contents="Ho")
    _ask(client, model="gemini-2.5-pro")
    _ask(client, config=types.GenerateContentConfig(temperature=0, max_output_tokens=5))
    _ask(client, config=types.GenerateContentConfig(temperature=0, system_instruction="Be brief."))
    list(_stream(client))
    assert len(fake.requests) == 6


def test_what_is_never_cached(client, fake):
    cache.enable()
    for _ in range(2):  # Gemini's default temperature (1) samples
        _ask(client, config=None)
    for _ in range(2):
        _ask(client, config=types.GenerateContentConfig(temperature=0.7))
    for _ in range(2):
        _ask(client, config=types.GenerateContentConfig(temperature=0, candidate_count=2))
    fake.queue(GeminiReply(finish_reason="SAFETY"), GeminiReply(finish_reason="SAFETY"))
    for _ in range(2):  # a blocked answer
        _ask(client, contents="Something unsafe")
    assert len(fake.requests) == 8
    fake.queue(google_error(500))
    with pytest.raises(errors.ServerError):
        _ask(client)
    _ask(client)  # the error was not kept: this one goes to the provider
    assert len(fake.requests) == 10


def test_a_stream_that_failed_or_was_left_is_not_kept(client, fake):
    cache.enable()
    fake.queue(GeminiReply(usage=USAGE, error_after_first_chunk=True))
    with pytest.raises(errors.ServerError):
        list(_stream(client))
    for _ in _stream(client):
        break  # left after the first chunk
    gc.collect()
    assert len(fake.requests) == 2
    list(_stream(client))  # whole: kept
    list(_stream(client))
    assert len(fake.requests) == 3


def test_calls_opt_in_and_out_on_their_own(client, fake):
    # Not enabled for the process: only calls that ask are cached.
    asking = types.GenerateContentConfig(temperature=0, http_options=types.HttpOptions(
        headers={"X-LLMLedger-Cache": "exact", "X-App": "kept"}))
    _ask(client, config=asking)
    _ask(client, config=asking)
    assert len(fake.requests) == 1
    sent = {name.lower(): value for name, value in fake.requests[0].headers.items()}
    assert "x-llmledger-cache" not in sent and sent["x-app"] == "kept"
    assert asking.http_options.headers["X-LLMLedger-Cache"] == "exact"  # the app's config is left as it was
    by_body = types.GenerateContentConfig(temperature=0, http_options=types.HttpOptions(
        extra_body={"llmledger_cache": "exact"}))
    _ask(client, config=by_body)
    assert len(fake.requests) == 1  # the same question, answered from what the header kept
    with cache.scope("exact"):
        _ask(client, contents="Ho")
        _ask(client, contents="Ho")
    assert len(fake.requests) == 2
    cache.enable()
    _ask(client, config=types.GenerateContentConfig(temperature=0, http_options=types.HttpOptions(
        headers={"X-LLMLedger-Cache": "off"})))
    with cache.scope("off"):
        _ask(client)
    assert len(fake.requests) == 4
    assert "llmledger_cache" not in fake.requests[-1].body


def test_answers_never_cross_partitions(client, fake):
    cache.enable()
    with attribute(tenant="acme"):
        _ask(client)
        _ask(client)
    with attribute(tenant="globex"):
        _ask(client)
    assert len(fake.requests) == 2


def test_embeddings_and_vertex_ai(client, fake, otel):
    cache.enable()
    fake.queue(EmbeddingReply(usage={"promptTokenCount": 3}))
    vectors = [client.models.embed_content(model="gemini-embedding-001", contents="hello") for _ in range(2)]
    assert vectors[1].embeddings == vectors[0].embeddings  # embeddings do not sample: cached without a temperature
    assert len(fake.requests) == 1
    vertex = genai.Client(vertexai=True, project="acme", location="us-central1", api_key=None,
                          credentials=_token(), http_options=types.HttpOptions(
                              base_url=fake.base_url, retry_options=types.HttpRetryOptions(attempts=1)))
    answers = [_ask(vertex) for _ in range(2)]
    assert _content(answers[1]) == _content(answers[0]) and len(fake.requests) == 2
    hit = otel.spans()[-1]
    assert (hit.attributes["gen_ai.provider.name"], hit.attributes["llmledger.cache.hit"]) == ("gcp.vertex_ai", True)


def _token():
    from google.oauth2.credentials import Credentials

    return Credentials(token="t")


@pytest.fixture(scope="module")
def embedder():
    return WordLlamaEmbedder()


def test_a_paraphrase_is_answered_from_the_semantic_cache(client, fake, otel, embedder):
    cache.enable(semantic=True, semantic_threshold=0.85, embedder=embedder)
    config = types.GenerateContentConfig(temperature=0, system_instruction="You answer questions about our shop.")
    first = _ask(client, "How do I reset my password?", config=config)
    second = _ask(client, "How can I reset my password?", config=config)
    assert len(fake.requests) == 1 and _content(second) == _content(first)
    hit = dict(otel.spans()[-1].attributes)
    assert hit["llmledger.cache.kind"] == "semantic" and 0.85 <= hit["llmledger.cache.similarity"] <= 1
    _ask(client, "What is the capital of France?", config=config)
    _ask(client, "What is the capital of Spain?", config=config)
    _ask(client, "How can I reset my password?", model="gemini-2.5-pro", config=config)
    assert len(fake.requests) == 4
    assert priced(otel.spans()[1:2], savings=True)[0].saving_strategy == "semantic_cache"


def test_a_chat_turn_is_cached_with_its_history(client, fake):
    cache.enable()
    answers = []
    for _ in range(2):
        chat = client.chats.create(model="gemini-2.5-flash", config=GREEDY)
        answers.append((chat.send_message("Hi").text, chat.send_message("And then?").text))
    assert answers[1] == answers[0] and len(fake.requests) == 2  # each turn once: its history is in its key
    assert [len(r.body["contents"]) for r in fake.requests] == [1, 3]
