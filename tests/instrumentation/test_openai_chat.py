"""Chat completions through the real openai SDK, traced: spans, usage, metrics, streams."""
from __future__ import annotations

import asyncio
import gc

import openai
import pytest
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel, ValidationError

from openai_fixtures import async_client, client, fake, instrument  # noqa: F401

MESSAGES = [{"role": "user", "content": "Say hello."}]


def _only_span(otel):
    spans = otel.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def _points_by_token_type(otel):
    return {p.attributes["gen_ai.token.type"]: p for p in otel.metric_points("gen_ai.client.token.usage")}


# --- not streamed --------------------------------------------------------------


def test_chat_completion_span_has_every_attribute(otel, instrument, client, fake):
    instrument()
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=50, temperature=0.2, top_p=0.9, seed=7,
        service_tier="flex",
    )

    assert completion.choices[0].message.content == "Hello there"  # the app's result is untouched
    span = _only_span(otel)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.stream": False,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.seed": 7,
        "openai.request.service_tier": "flex",
        "server.address": "127.0.0.1",
        "server.port": fake.port,
        "gen_ai.response.id": "chatcmpl-fake-1",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.finish_reasons": ("stop",),
        "openai.response.service_tier": "flex",
        # The fake's usage: 1200 prompt tokens (1024 read from cache, 64 written),
        # 300 completion tokens (128 of them reasoning). OpenAI's counts already
        # include those parts, so they pass through as they are.
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.cache_write.input_tokens": 64,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.reasoning.output_tokens": 128,
    }


def test_request_attributes_are_set_when_the_span_starts(otel, instrument, client, fake):
    class RecordOnStart(SpanProcessor):
        def __init__(self):
            self.seen = []

        def on_start(self, span, parent_context=None):
            self.seen.append(dict(span.attributes))

    on_start = RecordOnStart()
    otel.tracer_provider.add_span_processor(on_start)
    instrument()
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=20)

    # What samplers and span processors see at start: the request, not yet the response.
    assert on_start.seen == [{
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.stream": False,
        "gen_ai.request.max_tokens": 20,
        "server.address": "127.0.0.1",
        "server.port": fake.port,
    }]


def test_chat_metrics_follow_the_spec(otel, instrument, client, fake):
    instrument()
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    expected_common = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "server.address": "127.0.0.1",
        "server.port": fake.port,
    }
    tokens = _points_by_token_type(otel)
    assert set(tokens) == {"input", "output"}
    assert dict(tokens["input"].attributes) == {**expected_common, "gen_ai.token.type": "input"}
    assert (tokens["input"].count, tokens["input"].sum) == (1, 1200)
    assert (tokens["output"].count, tokens["output"].sum) == (1, 300)
    assert tokens["input"].explicit_bounds == (
        1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
    assert otel.metric("gen_ai.client.token.usage").unit == "{token}"

    [duration] = otel.metric_points("gen_ai.client.operation.duration")
    assert dict(duration.attributes) == expected_common
    assert duration.count == 1 and duration.sum > 0
    assert duration.explicit_bounds == (
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
    assert otel.metric("gen_ai.client.operation.duration").unit == "s"
    # Not streamed: no time to first chunk.
    assert otel.metric_points("gen_ai.client.operation.time_to_first_chunk") == []


class Greeting(BaseModel):
    text: str


def test_parse_with_a_response_format(otel, instrument, client, fake):
    instrument()
    completion = client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES, response_format=Greeting)

    assert completion.choices[0].message.parsed == Greeting(text="Hello there")
    assert fake.requests[-1].body["response_format"]["type"] == "json_schema"
    span = _only_span(otel)
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes["gen_ai.usage.input_tokens"] == 1200
    assert span.attributes["gen_ai.usage.output_tokens"] == 300


def test_answer_the_sdk_cannot_parse_is_a_failed_call(otel, instrument, client, fake):
    class Other(BaseModel):
        number: int

    instrument()
    with pytest.raises(ValidationError):
        client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES, response_format=Other)
    span = _only_span(otel)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ValidationError"


def test_parse_without_a_format_gives_usage(otel, instrument, client):
    instrument()
    completion = client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES)

    assert completion.choices[0].message.content == "Hello there"
    span = _only_span(otel)
    assert span.attributes["gen_ai.usage.input_tokens"] == 1200
    assert span.attributes["gen_ai.usage.output_tokens"] == 300


def test_async_chat_completion(otel, instrument, async_client):
    instrument()

    async def call():
        return await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    completion = asyncio.run(call())

    assert completion.id == "chatcmpl-fake-1"
    span = _only_span(otel)
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes["gen_ai.usage.input_tokens"] == 1200
    assert span.attributes["gen_ai.usage.output_tokens"] == 300
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert {p.attributes["gen_ai.token.type"] for p in otel.metric_points("gen_ai.client.token.usage")} == {
        "input", "output"}


def test_span_is_current_during_the_request_only(otel, instrument, client):
    from opentelemetry import trace

    instrument()
    before = trace.get_current_span()
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert trace.get_current_span() is before  # detached again


# --- streamed -------------------------------------------------------------------


def test_stream_with_usage_requested_by_the_app(otel, instrument, client):
    instrument()
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)

    # 6 content chunks + the usage chunk the app asked for, which it sees.
    assert len(chunks) == 7
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 1500
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello there"
    span = _only_span(otel)
    attributes = dict(span.attributes)
    ttfc = attributes.pop("gen_ai.response.time_to_first_chunk")
    assert 0 < ttfc
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.stream": True,
        "server.address": "127.0.0.1",
        "server.port": attributes["server.port"],
        "gen_ai.response.id": "chatcmpl-fake-stream",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.finish_reasons": ("stop",),
        "openai.response.service_tier": "default",
        # Stream usage chunk: 1500 prompt (1280 cached), 42 completion (10 reasoning).
        "gen_ai.usage.input_tokens": 1500,
        "gen_ai.usage.cache_read.input_tokens": 1280,
        "gen_ai.usage.output_tokens": 42,
        "gen_ai.usage.reasoning.output_tokens": 10,
    }
    [ttfc_point] = otel.metric_points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc_point.count == 1 and ttfc_point.sum == pytest.approx(ttfc)
    assert ttfc_point.explicit_bounds[0] == 0.01 and ttfc_point.explicit_bounds[-1] == 81.92
    tokens = _points_by_token_type(otel)
    assert (tokens["input"].sum, tokens["output"].sum) == (1500, 42)


def test_stream_without_usage_is_not_estimated(otel, instrument, client, fake):
    instrument()  # include-usage injection is off by default
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))

    assert len(chunks) == 6
    assert "stream_options" not in fake.requests[-1].body
    span = _only_span(otel)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert not [k for k in span.attributes if k.startswith("gen_ai.usage.")]
    assert otel.metric_points("gen_ai.client.token.usage") == []
    assert len(otel.metric_points("gen_ai.client.operation.duration")) == 1


def test_include_usage_setting_asks_for_usage_and_hides_the_extra_chunk(otel, instrument, client, fake):
    instrument(openai_include_usage=True)
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))

    assert fake.requests[-1].body["stream_options"] == {"include_usage": True}
    # The app did not ask for the usage chunk, so it gets the 6 chunks it would
    # get without the setting: every one with a choice.
    assert len(chunks) == 6 and all(c.choices for c in chunks)
    span = _only_span(otel)
    assert span.attributes["gen_ai.usage.input_tokens"] == 1500
    assert span.attributes["gen_ai.usage.output_tokens"] == 42


def test_include_usage_setting_respects_the_apps_own_choice(otel, instrument, client, fake):
    instrument(openai_include_usage=True)
    list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                        stream_options={"include_usage": False}))

    assert fake.requests[-1].body["stream_options"] == {"include_usage": False}
    assert "gen_ai.usage.input_tokens" not in _only_span(otel).attributes


def test_span_ends_once_at_exhaustion_even_if_iterated_again(otel, instrument, client):
    instrument()
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    list(stream)
    assert list(stream) == []
    stream.close()
    assert len(otel.spans()) == 1


def test_early_break_ends_the_span_when_the_stream_is_dropped(otel, instrument, client):
    instrument()
    for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
        break
    span = _only_span(otel)  # ended right after the loop: nothing holds the stream any more
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-fake-stream"
    assert "gen_ai.response.finish_reasons" not in span.attributes
    assert span.status.status_code is StatusCode.UNSET


def test_close_ends_the_span(otel, instrument, client):
    instrument()
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    next(stream)
    assert otel.spans() == []
    stream.close()
    assert len(otel.spans()) == 1
    del stream
    gc.collect()
    assert len(otel.spans()) == 1  # not a second time


def test_with_block_ends_the_span(otel, instrument, client):
    instrument()
    with client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True) as stream:
        assert isinstance(stream, openai.Stream)  # the proxy still looks like the SDK's stream
        next(stream)
    assert len(otel.spans()) == 1


def test_abandoned_stream_ends_its_span_when_collected(otel, instrument, client):
    instrument()
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    next(stream)
    next(stream)
    assert otel.spans() == []
    del stream
    gc.collect()
    assert len(otel.spans()) == 1


def test_error_in_the_middle_of_a_stream(otel, instrument, client, fake):
    instrument()
    fake.break_next_stream()
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    received = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            received.append(chunk)

    assert len(received) == 2
    assert "streaming" in str(raised.value)
    span = _only_span(otel)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "APIError"
    [duration] = otel.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "APIError"


def test_stream_helper(otel, instrument, client):
    instrument()
    with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES,
                                        stream_options={"include_usage": True}) as stream:
        text = "".join(e.delta for e in stream if e.type == "content.delta")
        final = stream.get_final_completion()

    assert text == "Hello there"
    assert final.usage.prompt_tokens == 1500
    span = _only_span(otel)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.input_tokens"] == 1500
    assert span.attributes["gen_ai.usage.output_tokens"] == 42


def test_stream_helper_left_early_ends_the_span(otel, instrument, client):
    instrument()
    with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        next(iter(stream))
        assert otel.spans() == []
    # The helper closes the HTTP response on exit; that ends the span.
    assert len(otel.spans()) == 1


def test_async_stream(otel, instrument, async_client):
    instrument()

    async def consume():
        stream = await async_client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        return [chunk async for chunk in stream]

    chunks = asyncio.run(consume())

    assert len(chunks) == 7
    span = _only_span(otel)
    assert span.attributes["gen_ai.usage.input_tokens"] == 1500
    assert span.attributes["gen_ai.usage.output_tokens"] == 42
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


def test_async_stream_early_break_and_aclose(otel, instrument, async_client):
    instrument()

    async def break_early():
        stream = await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        async for _ in stream:
            break
        assert otel.spans() == []  # the app still holds the stream: it may resume it
        await stream.close()
        assert len(otel.spans()) == 1

    async def async_with():
        async with await async_client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True) as stream:
            await stream.__anext__()
        assert len(otel.spans()) == 2

    asyncio.run(break_early())
    asyncio.run(async_with())


def test_async_stream_helper(otel, instrument, async_client):
    instrument(openai_include_usage=True)

    async def run():
        async with async_client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
            async for _ in stream:
                pass
            return await stream.get_final_completion()

    final = asyncio.run(run())
    assert final.choices[0].message.content == "Hello there"
    span = _only_span(otel)
    assert span.attributes["gen_ai.usage.input_tokens"] == 1500


def test_async_stream_dropped_after_break_ends_its_span(otel, instrument, async_client):
    instrument()

    async def run():
        async for _ in await async_client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True):
            break
        return len(otel.spans())

    assert asyncio.run(run()) == 1  # ended inside the task, right after the loop


def test_async_call_leaves_the_tasks_context_as_it_was(otel, instrument, async_client):
    from opentelemetry import trace

    instrument()
    tracer = otel.tracer_provider.get_tracer("app")

    async def run():
        with tracer.start_as_current_span("handle request") as parent:
            await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            stream = await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
            assert trace.get_current_span() is parent  # nothing left attached, not even by the stream
            async for _ in stream:
                pass
            assert trace.get_current_span() is parent

    asyncio.run(run())
    plain, streamed, parent = otel.spans()
    assert parent.name == "handle request"
    assert plain.parent.span_id == parent.context.span_id
    assert streamed.parent.span_id == parent.context.span_id
