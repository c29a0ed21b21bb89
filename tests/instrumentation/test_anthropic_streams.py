"""The Anthropic instrumentor, streamed calls: usage from message_start + message_delta,
time to first chunk, and exactly one span however the stream ends."""
from __future__ import annotations

import asyncio
import gc

import anthropic
import pytest
from opentelemetry.trace import StatusCode

from fake_anthropic import FakeAnthropic, MessageReply, Usage
from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation.anthropic import AnthropicInstrumentor

HELLO = [{"role": "user", "content": "Hello"}]
MODEL = "claude-sonnet-4-0"

# Input side on message_start: 40 fresh + 1000 cache read + 200 cache write;
# message_delta: 75 output tokens, 30 of them thinking.
STREAM_USAGE = Usage(input_tokens=40, output_tokens=75, cache_read_input_tokens=1000,
                     cache_creation_input_tokens=200, thinking_tokens=30)
# The conventions' input count includes the cache: 40 + 1000 + 200.
STREAM_INPUT_TOTAL = 1240


@pytest.fixture
def fake():
    with FakeAnthropic() as server:
        server.default_reply = MessageReply(text="One two three four", deltas=4, thinking="hmm",
                                            model="claude-sonnet-4-20250514", usage=STREAM_USAGE)
        yield server


@pytest.fixture
def instrument(otel):
    instrumentor = AnthropicInstrumentor()

    def apply(settings: Settings | None = None):
        instrumentor.instrument(
            tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider, settings=settings or Settings()
        )

    yield apply
    instrumentor.uninstrument()


@pytest.fixture
def instrumented(instrument):
    instrument()


@pytest.fixture
def client(fake):
    return anthropic.Anthropic(api_key="test-key", base_url=fake.base_url, max_retries=0)


@pytest.fixture
def async_client(fake):
    return anthropic.AsyncAnthropic(api_key="test-key", base_url=fake.base_url, max_retries=0)


def assert_complete_stream_span(span):
    assert span.name == f"chat {MODEL}"
    assert span.status.status_code is not StatusCode.ERROR
    attributes = span.attributes
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.response.id"] == "msg_fake_0001"
    assert attributes["gen_ai.response.model"] == "claude-sonnet-4-20250514"
    assert attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attributes["gen_ai.usage.input_tokens"] == STREAM_INPUT_TOTAL
    assert attributes["gen_ai.usage.output_tokens"] == 75
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert attributes["gen_ai.usage.cache_write.input_tokens"] == 200
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 30
    assert attributes["gen_ai.response.time_to_first_chunk"] >= 0


def assert_metrics_recorded_once(otel, input_tokens=STREAM_INPUT_TOTAL, output_tokens=75):
    [duration] = otel.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1
    [first_chunk] = otel.metric_points("gen_ai.client.operation.time_to_first_chunk")
    assert first_chunk.count == 1
    by_type = {p.attributes["gen_ai.token.type"]: (p.count, p.sum) for p in
               otel.metric_points("gen_ai.client.token.usage")}
    expected = {"input": (1, input_tokens)}
    if output_tokens is not None:
        expected["output"] = (1, output_tokens)
    assert by_type == expected


EVENT_TYPES = [
    "message_start",
    "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",  # thinking
    "content_block_start", *["content_block_delta"] * 4, "content_block_stop",  # text
    "message_delta", "message_stop",
]


def test_create_stream_passes_every_event_and_records_the_usage(otel, client, instrumented):
    stream = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True)
    types = [event.type for event in stream]

    assert types == EVENT_TYPES  # ping is dropped by the SDK itself
    [span] = otel.spans()
    assert_complete_stream_span(span)
    assert_metrics_recorded_once(otel)


def test_async_create_stream(otel, async_client, instrumented):
    async def main():
        stream = await async_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True)
        return [event.type async for event in stream]

    assert asyncio.run(main()) == EVENT_TYPES
    [span] = otel.spans()
    assert_complete_stream_span(span)
    assert_metrics_recorded_once(otel)


def test_stream_helper_text_stream_and_final_message(otel, client, instrumented):
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == "One two three four"
    assert final.usage.output_tokens == 75
    [span] = otel.spans()
    assert_complete_stream_span(span)
    assert_metrics_recorded_once(otel)


def test_async_stream_helper(otel, async_client, instrumented):
    async def main():
        async with async_client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
            return await stream.get_final_text()

    assert asyncio.run(main()) == "One two three four"
    [span] = otel.spans()
    assert_complete_stream_span(span)


def test_beta_stream_helper(otel, client, instrumented):
    with client.beta.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        stream.until_done()
    [span] = otel.spans()
    assert_complete_stream_span(span)


def test_early_break_then_drop_ends_the_span_with_the_input_only(otel, client, instrumented):
    for event in client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True):
        if event.type == "content_block_delta":
            break
    gc.collect()  # the loop's stream is unreachable now (CPython already freed it)

    [span] = otel.spans()
    assert span.status.status_code is not StatusCode.ERROR
    # Billed input is known from message_start; the output count never arrived and is not guessed.
    assert span.attributes["gen_ai.usage.input_tokens"] == STREAM_INPUT_TOTAL
    assert "gen_ai.usage.output_tokens" not in span.attributes
    assert "gen_ai.response.finish_reasons" not in span.attributes
    assert_metrics_recorded_once(otel, output_tokens=None)


def test_a_kept_stream_stays_open_after_break_until_closed(otel, client, instrumented):
    stream = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True)
    for _event in stream:
        break
    assert otel.spans() == []  # the app may still resume it
    stream.close()
    stream.close()
    del stream
    gc.collect()
    assert len(otel.spans()) == 1
    [duration] = otel.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1


def test_context_manager_exit_ends_the_span(otel, client, instrumented):
    with client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True) as stream:
        next(iter(stream))
    assert len(otel.spans()) == 1


def test_stream_helper_left_early_ends_the_span(otel, client, instrumented):
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        for event in stream:
            if event.type == "text":
                break
    [span] = otel.spans()
    assert span.attributes["gen_ai.usage.input_tokens"] == STREAM_INPUT_TOTAL


def test_abandoned_stream_is_ended_when_collected(otel, client, instrumented):
    client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True)  # never read
    gc.collect()
    [span] = otel.spans()
    assert "gen_ai.usage.input_tokens" not in span.attributes


def test_async_early_break_and_aclose(otel, async_client, instrumented):
    async def main():
        stream = await async_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True)
        async for _event in stream:
            break
        await stream.close()

    asyncio.run(main())
    [span] = otel.spans()
    assert span.attributes["gen_ai.usage.input_tokens"] == STREAM_INPUT_TOTAL


def test_error_event_mid_stream_fails_the_span_and_reaches_the_app(otel, fake, client, instrumented):
    fake.queue(MessageReply(error_after_first_delta="overloaded_error", usage=Usage(input_tokens=25, output_tokens=9)))
    seen = []
    with pytest.raises(anthropic.APIStatusError) as raised:
        for event in client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True):
            seen.append(event.type)

    assert "overloaded_error" in str(raised.value)
    assert seen == ["message_start", "content_block_start", "content_block_delta"]
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__name__
    assert span.attributes["gen_ai.usage.input_tokens"] == 25
    assert "gen_ai.usage.output_tokens" not in span.attributes


def test_with_streaming_response_stream_parsed_by_the_app(otel, client, instrumented):
    with client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=100, messages=HELLO, stream=True
    ) as response:
        types = [event.type for event in response.parse()]
    assert types == EVENT_TYPES
    [span] = otel.spans()
    assert_complete_stream_span(span)


def test_with_raw_response_stream(otel, client, instrumented):
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True)
    assert otel.spans() == []
    for _event in raw.parse():
        pass
    [span] = otel.spans()
    assert_complete_stream_span(span)


def test_counts_repeated_on_message_delta_replace_those_of_message_start(otel, fake, client, instrumented):
    """Newer API versions repeat cumulative input counts on message_delta (e.g. after server tools)."""
    fake.queue(MessageReply(usage=Usage(input_tokens=10, output_tokens=5),
                            delta_usage_extra={"input_tokens": 14, "cache_read_input_tokens": 3}))
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        final = stream.get_final_message()

    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens) == (14, 3)  # the SDK agrees
    [span] = otel.spans()
    # 14 input + 3 cache read + 0 cache write.
    assert span.attributes["gen_ai.usage.input_tokens"] == 17
    assert span.attributes["gen_ai.usage.cache_read.input_tokens"] == 3
    assert span.attributes["gen_ai.usage.output_tokens"] == 5


def test_streamed_content_is_captured_on_opt_in(otel, client, instrument):
    instrument(Settings(capture_content=True))
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        stream.until_done()
    [span] = otel.spans()
    assert span.attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"reasoning","content":"hmm"},'
        '{"type":"text","content":"One two three four"}],"finish_reason":"end_turn"}]'
    )
