"""The response cache inside the real anthropic SDK against the local fake Anthropic server:
hits are equal objects, streamed (also through `messages.stream()`), async and raw.

The Messages API takes no temperature (it samples at its default), so these calls are
cached only with `any_temperature=True`."""
from __future__ import annotations

import asyncio

import anthropic
import pytest
from fake_anthropic import FakeAnthropic, MessageReply, Usage

from llmledger.instrumentation import cache
from llmledger.instrumentation.anthropic import AnthropicInstrumentor

ASK = {"model": "claude-sonnet-4-20250514", "max_tokens": 100, "system": "Be brief.",
       "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def fake():
    with FakeAnthropic() as server:
        server.default_reply = MessageReply(text="Hello from the fake.", usage=Usage(
            input_tokens=12, output_tokens=6, cache_read_input_tokens=1000, cache_creation_input_tokens=200))
        yield server


@pytest.fixture
def instrumented(otel):
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    yield
    instrumentor.uninstrument()


@pytest.fixture
def client(fake, instrumented):
    return anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0)


def test_a_hit_is_an_equal_message_and_carries_the_original_usage(client, fake, otel):
    cache.enable(any_temperature=True)
    first = client.messages.create(**ASK)
    second = client.messages.create(**ASK)
    assert len(fake.requests) == 1 and type(second) is type(first) and second == first
    miss, hit = (dict(s.attributes) for s in otel.spans())
    assert hit["llmledger.cache.hit"] is True
    # Anthropic's input leaves cached tokens out; the span counts them in: 12 + 1000 + 200.
    assert hit["gen_ai.usage.input_tokens"] == miss["gen_ai.usage.input_tokens"] == 1212
    assert hit["gen_ai.usage.cache_read.input_tokens"] == 1000


def test_without_opting_in_to_sampled_answers_nothing_is_kept(client, fake):
    # The Messages API samples at its default temperature and takes none: opt in to cache it.
    cache.enable()
    client.messages.create(**ASK)
    client.messages.create(**ASK)
    assert len(fake.requests) == 2


def test_the_system_prompt_is_part_of_the_key(client, fake):
    cache.enable(any_temperature=True)
    client.messages.create(**ASK)
    client.messages.create(**{**ASK, "system": "Be very brief."})
    assert len(fake.requests) == 2


def test_streamed_hits_also_through_the_stream_helper(client, fake):
    cache.enable(any_temperature=True)
    first = [e.to_dict() for e in client.messages.create(**ASK, stream=True)]
    again = [e.to_dict() for e in client.messages.create(**ASK, stream=True)]
    assert again == first and again[-1]["type"] == "message_stop"
    with client.messages.stream(**ASK) as stream:
        text = stream.get_final_text()
    assert text == "Hello from the fake."
    assert len(fake.requests) == 1


def test_async_and_raw_hits(fake, instrumented):
    cache.enable(any_temperature=True)
    client = anthropic.AsyncAnthropic(api_key="k", base_url=fake.base_url, max_retries=0)

    async def scenario():
        first = await client.messages.create(**ASK)
        second = await client.messages.create(**ASK)
        events = [e.to_dict() async for e in await client.messages.create(**ASK, stream=True)]
        again = [e.to_dict() async for e in await client.messages.create(**ASK, stream=True)]
        raw = await client.messages.with_raw_response.create(**ASK)
        return first, second, events, again, await raw.parse()

    first, second, events, again, parsed = asyncio.run(scenario())
    assert second == first == parsed and again == events
    assert len(fake.requests) == 2
    sync = anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0)
    raw = sync.messages.with_raw_response.create(**ASK)
    assert raw.parse() == first and len(fake.requests) == 2


def test_a_refusal_is_not_kept(client, fake):
    cache.enable(any_temperature=True)
    fake.queue(MessageReply(text="I can't help with that.", stop_reason="refusal"))
    client.messages.create(**ASK)
    client.messages.create(**ASK)
    assert len(fake.requests) == 2
