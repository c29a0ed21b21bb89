"""The Responses API, legacy completions and embeddings, sync and async, streamed and not."""
from __future__ import annotations

import asyncio

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from openai_fixtures import async_client, client, fake, instrument  # noqa: F401


def _only_span(otel):
    spans = otel.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def _usage(span) -> dict:
    return {k: v for k, v in span.attributes.items() if k.startswith("gen_ai.usage.")}


# The fake's Responses API usage: 900 input tokens (512 read from the cache, none
# written: a zero part is left out) and 250 output tokens (200 of them reasoning).
RESPONSES_USAGE = {
    "gen_ai.usage.input_tokens": 900,
    "gen_ai.usage.cache_read.input_tokens": 512,
    "gen_ai.usage.output_tokens": 250,
    "gen_ai.usage.reasoning.output_tokens": 200,
}


def test_responses_create(otel, instrument, client, fake):
    instrument()
    response = client.responses.create(model="gpt-4.1", input="Capital of France?", max_output_tokens=64)

    assert response.output_text == "Paris is the capital of France."
    span = _only_span(otel)
    assert span.name == "chat gpt-4.1"
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4.1",
        "gen_ai.request.stream": False,
        "gen_ai.request.max_tokens": 64,
        "server.address": "127.0.0.1",
        "server.port": fake.port,
        "gen_ai.response.id": "resp_fake_1",
        "gen_ai.response.model": "gpt-4.1-2025-04-14",
        "gen_ai.response.finish_reasons": ("completed",),
        "openai.response.service_tier": "default",
        **RESPONSES_USAGE,
    }
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in otel.metric_points("gen_ai.client.token.usage")}
    assert tokens == {"input": 900, "output": 250}


def test_responses_stream(otel, instrument, client):
    instrument()
    events = list(client.responses.create(model="gpt-4.1", input="Capital of France?", stream=True))

    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    span = _only_span(otel)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.response.id"] == "resp_fake_1"
    assert span.attributes["gen_ai.response.finish_reasons"] == ("completed",)
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert _usage(span) == RESPONSES_USAGE
    assert len(otel.metric_points("gen_ai.client.operation.time_to_first_chunk")) == 1


def test_responses_stream_helper(otel, instrument, client):
    instrument()
    with client.responses.stream(model="gpt-4.1", input="Capital of France?") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()

    assert final.usage.input_tokens == 900
    assert _usage(_only_span(otel)) == RESPONSES_USAGE


def test_responses_parse(otel, instrument, client):
    instrument()
    parsed = client.responses.parse(model="gpt-4.1", input="Capital of France?")

    assert parsed.output_text == "Paris is the capital of France."
    assert _usage(_only_span(otel)) == RESPONSES_USAGE


def test_responses_async_create_and_stream(otel, instrument, async_client):
    instrument()

    async def run():
        await async_client.responses.create(model="gpt-4.1", input="Capital of France?")
        stream = await async_client.responses.create(model="gpt-4.1", input="Capital of France?", stream=True)
        async for _ in stream:
            pass

    asyncio.run(run())

    plain, streamed = otel.spans()
    assert _usage(plain) == RESPONSES_USAGE and plain.attributes["gen_ai.request.stream"] is False
    assert _usage(streamed) == RESPONSES_USAGE and streamed.attributes["gen_ai.request.stream"] is True


def test_legacy_completion(otel, instrument, client, fake):
    instrument()
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="The", max_tokens=16)

    assert completion.choices[0].text == " a quick brown fox"
    span = _only_span(otel)
    assert span.name == "text_completion gpt-3.5-turbo-instruct"
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "text_completion",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-3.5-turbo-instruct",
        "gen_ai.request.stream": False,
        "gen_ai.request.max_tokens": 16,
        "server.address": "127.0.0.1",
        "server.port": fake.port,
        "gen_ai.response.id": "cmpl-fake-1",
        "gen_ai.response.model": "gpt-3.5-turbo-instruct",
        "gen_ai.response.finish_reasons": ("length",),
        "gen_ai.usage.input_tokens": 20,
        "gen_ai.usage.output_tokens": 16,
    }


def test_legacy_completion_stream_with_injected_usage(otel, instrument, client, fake):
    instrument(openai_include_usage=True)
    chunks = list(client.completions.create(model="gpt-3.5-turbo-instruct", prompt="The", stream=True))

    assert fake.requests[-1].body["stream_options"] == {"include_usage": True}
    assert [c.choices[0].text for c in chunks] == [" jumps", " over"]  # the usage chunk stays hidden
    span = _only_span(otel)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert _usage(span) == {"gen_ai.usage.input_tokens": 25, "gen_ai.usage.output_tokens": 7}


def test_legacy_completion_async(otel, instrument, async_client):
    instrument()

    async def run():
        return await async_client.completions.create(model="gpt-3.5-turbo-instruct", prompt="The")

    asyncio.run(run())
    assert _usage(_only_span(otel)) == {"gen_ai.usage.input_tokens": 20, "gen_ai.usage.output_tokens": 16}


def test_embeddings(otel, instrument, client, fake):
    instrument()
    result = client.embeddings.create(model="text-embedding-3-small", input="hello")

    assert result.data[0].embedding == [0.25, -0.5, 0.125]  # the SDK's base64 decoding still works
    span = _only_span(otel)
    assert span.name == "embeddings text-embedding-3-small"
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "text-embedding-3-small",
        "gen_ai.request.stream": False,
        "server.address": "127.0.0.1",
        "server.port": fake.port,
        "gen_ai.response.model": "text-embedding-3-small",
        "gen_ai.usage.input_tokens": 8,
    }
    # Embeddings have input tokens only: one token-usage point.
    [point] = otel.metric_points("gen_ai.client.token.usage")
    assert point.attributes["gen_ai.token.type"] == "input" and point.sum == 8


def test_embeddings_async(otel, instrument, async_client):
    instrument()

    async def run():
        return await async_client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])

    asyncio.run(run())
    span = _only_span(otel)
    assert span.attributes["gen_ai.usage.input_tokens"] == 8
    assert span.status.status_code is StatusCode.UNSET


def test_calls_that_are_not_llm_calls_make_no_span(otel, instrument, client, fake):
    instrument()
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o-mini")  # a GET the fake does not serve
    with pytest.raises(openai.NotFoundError):
        client.moderations.create(input="hello")
    assert otel.spans() == []
