"""The exact response cache inside the real openai SDK, against the local fake OpenAI server:
a hit never reaches the provider and returns an equal object of the same type, streamed,
async and raw; it never crosses partitions, expires, and keeps only whole answers."""
from __future__ import annotations

import asyncio
import time

import openai
import pytest
from fake_openai import FakeOpenAI

from llmledger.instrumentation import attribute, cache
from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation.openai import OpenAIInstrumentor

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def instrumented(otel):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider,
                            settings=Settings())
    yield
    instrumentor.uninstrument()


@pytest.fixture
def client(fake, instrumented):
    return openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)


@pytest.fixture
def async_client(fake, instrumented):
    return openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0)


def _ask(client, **extra):
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0, **extra)


def _attributes(span) -> dict:
    return dict(span.attributes)


def test_a_hit_never_reaches_the_provider_and_is_an_equal_object(client, fake, otel):
    cache.enable()
    first = _ask(client)
    second = _ask(client)
    assert len(fake.requests) == 1
    assert type(second) is type(first) and second == first
    assert second.choices[0].message.content == "Hello there"
    miss, hit = otel.spans()
    assert "llmledger.cache.hit" not in _attributes(miss)
    found = _attributes(hit)
    assert found["llmledger.cache.hit"] is True and found["llmledger.cache.kind"] == "exact"
    # The hit names the call it replays, and carries that call's usage, for the ledger to value.
    assert found["llmledger.cache.source_span_id"] == format(miss.context.span_id, "016x")
    assert found["llmledger.cache.source_trace_id"] == format(miss.context.trace_id, "032x")
    for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
                "gen_ai.response.model", "gen_ai.response.id"):
        assert found[key] == _attributes(miss)[key], key


def test_a_different_request_misses(client, fake):
    cache.enable()
    _ask(client)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES[:1] + [{"role": "user", "content": "Ho"}],
                                   temperature=0)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES, temperature=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0, max_tokens=5)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0,
                                   tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])
    assert len(fake.requests) == 5


def test_what_is_never_cached(client, fake):
    cache.enable()
    for _ in range(2):  # the provider's default temperature (1) samples: not cached
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    for _ in range(2):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.7)
    for _ in range(2):
        _ask(client, n=2)
    assert len(fake.requests) == 6
    fake.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        _ask(client)
    _ask(client)  # the error was not kept: this one goes to the provider
    assert len(fake.requests) == 8


def test_sampling_above_zero_is_cached_when_opted_in(client, fake):
    cache.enable(any_temperature=True)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(fake.requests) == 1


def test_answers_never_cross_partitions(client, fake):
    cache.enable(partition=("app", "tenant", "user"))
    with attribute(tenant="acme"):
        _ask(client)
        _ask(client)
    assert len(fake.requests) == 1
    with attribute(tenant="globex"):
        _ask(client)
    with attribute(app="other-app", tenant="acme"):
        _ask(client)
    with attribute(tenant="acme", user="u-2"):
        _ask(client)
    assert len(fake.requests) == 4


def test_an_answer_expires(client, fake):
    cache.enable(ttl=0.05)
    _ask(client)
    time.sleep(0.2)
    _ask(client)
    assert len(fake.requests) == 2


def test_the_in_process_cache_is_bounded(client, fake):
    cache.enable(max_entries=2)
    for content in ("a", "b", "c", "a"):  # "a" was pushed out by "c"
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}],
                                       temperature=0)
    assert len(fake.requests) == 4


def test_a_streamed_hit_replays_the_same_chunks(client, fake, otel):
    cache.enable()
    first = [c for c in _ask(client, stream=True, stream_options={"include_usage": True})]
    replayed = _ask(client, stream=True, stream_options={"include_usage": True})
    assert isinstance(replayed, openai.Stream)
    second = list(replayed)
    assert len(fake.requests) == 1
    assert [c.to_dict() for c in second] == [c.to_dict() for c in first]
    assert second[-1].usage.prompt_tokens == 1500
    hit = _attributes(otel.spans()[-1])
    assert hit["llmledger.cache.hit"] is True and hit["gen_ai.usage.input_tokens"] == 1500


def test_a_stream_without_usage_asked_keeps_the_usage_the_instrumentation_hid(fake, otel):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, settings=Settings(openai_include_usage=True))
    try:
        client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
        cache.enable()
        first = [c.to_dict() for c in _ask(client, stream=True)]
        second = [c.to_dict() for c in _ask(client, stream=True)]
    finally:
        instrumentor.uninstrument()
    assert len(fake.requests) == 1 and second == first
    assert all("usage" not in c or c["usage"] is None for c in second)  # the app never sees the hidden chunk
    assert _attributes(otel.spans()[-1])["gen_ai.usage.input_tokens"] == 1500


def test_a_stream_broken_off_is_not_kept(client, fake):
    cache.enable()
    fake.break_next_stream()
    with pytest.raises(openai.APIError):
        list(_ask(client, stream=True))
    assert list(_ask(client, stream=True))
    assert len(fake.requests) == 2


def test_async_hits_plain_and_streamed(async_client, fake):
    cache.enable()

    async def scenario():
        first = await _ask(async_client)
        second = await _ask(async_client)
        chunks = [c async for c in await _ask(async_client, stream=True)]
        replay = await _ask(async_client, stream=True)
        assert isinstance(replay, openai.AsyncStream)
        again = [c async for c in replay]
        return first, second, chunks, again

    first, second, chunks, again = asyncio.run(scenario())
    assert second == first and [c.to_dict() for c in again] == [c.to_dict() for c in chunks]
    assert len(fake.requests) == 2


def test_raw_response_hits(client, fake):
    cache.enable()
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0)
    replay = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0)
    assert type(replay) is type(raw) and replay.parse() == raw.parse()
    with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=MESSAGES,
                                                                temperature=0) as streamed:
        assert streamed.parse() == raw.parse()
    assert len(fake.requests) == 1
    # A raw streamed call is kept too, and replayed as a raw stream.
    first = [c.to_dict() for c in client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, temperature=0, stream=True).parse()]
    second = [c.to_dict() for c in client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, temperature=0, stream=True).parse()]
    assert second == first and len(fake.requests) == 2


def test_responses_api_and_embeddings(client, fake):
    cache.enable()
    first = client.responses.create(model="gpt-4o-mini", input="Capital of France?", temperature=0)
    second = client.responses.create(model="gpt-4o-mini", input="Capital of France?", temperature=0)
    assert second == first and second.output_text == "Paris is the capital of France."
    events = [e.to_dict() for e in client.responses.create(model="gpt-4o-mini", input="Hi", temperature=0,
                                                           stream=True)]
    again = [e.to_dict() for e in client.responses.create(model="gpt-4o-mini", input="Hi", temperature=0,
                                                          stream=True)]
    assert again == events and again[-1]["type"] == "response.completed"
    vectors = [client.embeddings.create(model="text-embedding-3-small", input="hello") for _ in range(2)]
    assert vectors[0] == vectors[1]  # embeddings do not sample: cached without a temperature
    assert len(fake.requests) == 3


def test_calls_opt_in_and_out_on_their_own(client, fake):
    # Not enabled for the process: only calls that ask are cached.
    _ask(client)
    _ask(client)
    assert len(fake.requests) == 2
    with cache.scope("exact"):
        _ask(client)
        _ask(client)
    assert len(fake.requests) == 3
    _ask(client, extra_headers={"X-LLMLedger-Cache": "exact"})  # the answer kept inside the scope
    _ask(client, extra_body={"llmledger_cache": "exact"})
    assert len(fake.requests) == 3
    cache.enable()
    with cache.scope("off"):
        _ask(client)
    _ask(client, extra_headers={"X-LLMLedger-Cache": "off"})
    assert len(fake.requests) == 5
    sent = fake.requests[-1]
    assert "x-llmledger-cache" not in {name.lower() for name in sent.headers}
    assert "llmledger_cache" not in sent.body


def test_a_decorated_function_caches_its_calls(client, fake):
    @cache.scope("exact", ttl=60)
    def answer():
        return _ask(client)

    assert answer() == answer()
    assert len(fake.requests) == 1
