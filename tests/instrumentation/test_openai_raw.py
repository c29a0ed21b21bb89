"""`with_raw_response` and `with_streaming_response`: the same spans as plain calls."""
from __future__ import annotations

import asyncio
import gc

import openai
import pytest

from openai_fixtures import fake, instrument, instrumented  # noqa: F401
from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation.openai import OpenAIInstrumentor

MESSAGES = [{"role": "user", "content": "Say hello."}]
# Usage of the fake's chat answer (1200 in, 300 out) and of its stream (1500 in, 42 out).
CHAT_TOKENS = (1200, 300)
STREAM_TOKENS = (1500, 42)


@pytest.fixture
def client(fake, instrumented):
    # Made after instrumenting and before: both must work, see the test at the end.
    return openai.OpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)


@pytest.fixture
def async_client(fake, instrumented):
    return openai.AsyncOpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)


def _tokens(span) -> tuple:
    return span.attributes.get("gen_ai.usage.input_tokens"), span.attributes.get("gen_ai.usage.output_tokens")


def test_with_raw_response(otel, client):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)

    assert raw.headers["x-request-id"] == "req_fake"
    [span] = otel.spans()  # finished as soon as the call returns: the body is already read
    assert _tokens(span) == CHAT_TOKENS
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-fake-1"
    assert raw.parse().usage.prompt_tokens == 1200


def test_with_raw_response_streamed(otel, client):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    assert otel.spans() == []
    stream = raw.parse()
    assert raw.parse() is stream  # the SDK caches parse(): so do we
    chunks = list(stream)

    assert len(chunks) == 7
    [span] = otel.spans()
    assert _tokens(span) == STREAM_TOKENS
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


def test_with_raw_response_streamed_but_never_parsed(otel, client):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert raw.status_code == 200
    del raw
    gc.collect()
    [span] = otel.spans()
    assert _tokens(span) == (None, None)


def test_with_streaming_response(otel, client):
    with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=MESSAGES) as response:
        assert response.headers["x-request-id"] == "req_fake"
        completion = response.parse()

    assert completion.choices[0].message.content == "Hello there"
    [span] = otel.spans()
    assert _tokens(span) == CHAT_TOKENS


def test_with_streaming_response_read_as_json(otel, client):
    with client.embeddings.with_streaming_response.create(
            model="text-embedding-3-small", input="hi", encoding_format="float") as response:
        body = response.json()

    assert body["usage"]["prompt_tokens"] == 8
    [span] = otel.spans()
    assert span.attributes["gen_ai.usage.input_tokens"] == 8


def test_with_streaming_response_streamed(otel, client):
    with client.chat.completions.with_streaming_response.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}) as response:
        chunks = list(response.parse())

    assert len(chunks) == 7
    [span] = otel.spans()
    assert _tokens(span) == STREAM_TOKENS


def test_with_streaming_response_closed_unread(otel, client):
    with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=MESSAGES):
        assert otel.spans() == []
    [span] = otel.spans()  # ended by the SDK's close() on leaving the block, without usage
    assert _tokens(span) == (None, None)


def test_async_with_raw_response(otel, async_client):
    async def run():
        raw = await async_client.responses.with_raw_response.create(model="gpt-4.1", input="hi")
        return raw.parse()

    response = asyncio.run(run())
    assert response.usage.input_tokens == 900
    [span] = otel.spans()
    assert _tokens(span) == (900, 250)


def test_async_with_raw_response_streamed(otel, async_client):
    async def run():
        raw = await async_client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        return [chunk async for chunk in raw.parse()]

    assert len(asyncio.run(run())) == 7
    [span] = otel.spans()
    assert _tokens(span) == STREAM_TOKENS


def test_async_with_streaming_response(otel, async_client):
    async def run():
        async with async_client.chat.completions.with_streaming_response.create(
                model="gpt-4o-mini", messages=MESSAGES) as response:
            plain = await response.parse()
        async with async_client.chat.completions.with_streaming_response.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True,
                stream_options={"include_usage": True}) as response:
            stream = await response.parse()
            chunks = [chunk async for chunk in stream]
        return plain, chunks

    plain, chunks = asyncio.run(run())
    assert plain.id == "chatcmpl-fake-1" and len(chunks) == 7
    first, second = otel.spans()
    assert _tokens(first) == CHAT_TOKENS
    assert _tokens(second) == STREAM_TOKENS


def test_raw_wrappers_of_a_client_made_before_instrumenting(otel, fake):
    early = openai.OpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)
    raw_create = early.chat.completions.with_raw_response.create  # bound before the patch exists
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider,
                            settings=Settings())
    try:
        raw_create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    [span] = otel.spans()
    assert _tokens(span) == CHAT_TOKENS
