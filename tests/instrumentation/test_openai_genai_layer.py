"""The shared GenAI layer the SDK instrumentors stand on, tested without any SDK."""
from __future__ import annotations

import asyncio
import gc
import logging

import pytest
from opentelemetry.trace import StatusCode

from llmledger.instrumentation._genai import (
    AsyncStreamProxy,
    Settings,
    SettingsError,
    SyncStreamProxy,
    Telemetry,
    Usage,
    foreign_wrapper,
    wrap,
)
from llmledger.instrumentation._genai import attributes as attr


@pytest.fixture
def telemetry(otel):
    return Telemetry("test.genai", otel.tracer_provider, otel.meter_provider, Settings())


def _start(telemetry, model="claude-sonnet-4", stream=True):
    return telemetry.start_call({
        attr.OPERATION_NAME: "chat",
        attr.PROVIDER_NAME: "anthropic",
        attr.REQUEST_MODEL: model,
        attr.SERVER_ADDRESS: "api.anthropic.com",
        attr.SERVER_PORT: 443,
        attr.REQUEST_STREAM: stream,
    })


# --- usage -----------------------------------------------------------------------


def test_usage_with_cache_outside_the_input_count_is_summed():
    # Anthropic: 100 uncached input + 2000 read from cache + 300 written to cache = 2400.
    usage = Usage.from_separate_cache(input_tokens=100, output_tokens=50,
                                      cache_read_tokens=2000, cache_write_tokens=300)
    assert usage == Usage(input_tokens=2400, output_tokens=50, cache_read_tokens=2000, cache_write_tokens=300)


def test_usage_not_reported_stays_unknown():
    assert Usage.from_separate_cache(input_tokens=None, output_tokens=None).input_tokens is None
    assert Usage.from_separate_cache(input_tokens=7, output_tokens=1).input_tokens == 7
    attributes: dict = {}
    Usage(output_tokens=3).add_attributes(attributes)
    assert attributes == {"gen_ai.usage.output_tokens": 3}
    attributes = {}
    Usage(input_tokens=0, output_tokens=0, cache_read_tokens=0, reasoning_tokens=0).add_attributes(attributes)
    assert attributes == {"gen_ai.usage.input_tokens": 0, "gen_ai.usage.output_tokens": 0}


# --- calls -----------------------------------------------------------------------


def test_call_ends_once_and_records_metrics_once(otel, telemetry):
    call = _start(telemetry, stream=False)
    call.response_model = "claude-sonnet-4-20250514"
    call.usage = Usage(input_tokens=10, output_tokens=4)
    call.end()
    call.end()
    call.fail(RuntimeError("late"))

    [span] = otel.spans()
    assert span.name == "chat claude-sonnet-4"
    assert span.status.status_code is StatusCode.UNSET
    assert [p.count for p in otel.metric_points("gen_ai.client.operation.duration")] == [1]
    assert sorted(p.sum for p in otel.metric_points("gen_ai.client.token.usage")) == [4, 10]


def test_failed_call(otel, telemetry):
    call = _start(telemetry)
    call.fail(TimeoutError("upstream took too long"))

    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "upstream took too long"
    assert span.attributes["error.type"] == "TimeoutError"


def test_span_name_without_a_model(otel, telemetry):
    telemetry.start_call({attr.OPERATION_NAME: "embeddings"}).end()
    assert otel.spans()[0].name == "embeddings"


def test_attribution_rides_on_every_span(otel, telemetry):
    attribution = pytest.importorskip("llmledger.instrumentation.attribution")
    with attribution.attribute(app="checkout", user="user-42", team="payments", feature="refunds"):
        _start(telemetry).end()
    _start(telemetry).end()

    inside, outside = otel.spans()
    assert inside.attributes["llmledger.app"] == "checkout"
    assert inside.attributes["user.id"] == "user-42"
    assert inside.attributes["llmledger.team"] == "payments"
    assert inside.attributes["llmledger.feature"] == "refunds"
    assert "llmledger.app" not in outside.attributes


def test_failing_attribution_lookup_is_logged_not_raised(otel, telemetry, monkeypatch, caplog):
    def broken(context):
        raise KeyError("attribution bug")

    monkeypatch.setattr(telemetry, "_attribution", broken)
    with caplog.at_level(logging.DEBUG, logger="llmledger.instrumentation"):
        _start(telemetry).end()
    assert len(otel.spans()) == 1
    assert "attribution bug" in caplog.text


def test_no_metrics_recorded_when_switched_off(otel):
    telemetry = Telemetry("test.genai", otel.tracer_provider, None, Settings(record_metrics=False))
    call = _start(telemetry)
    call.usage = Usage(input_tokens=1, output_tokens=1)
    call.end()
    assert len(otel.spans()) == 1
    assert otel.metric_points("gen_ai.client.operation.duration") == []


# --- stream proxies ---------------------------------------------------------------


class Chunks:
    """A stand-in for an SDK stream: an iterator with close() and a context manager."""

    def __init__(self, items, fail_after=None):
        self.items = list(items)
        self.fail_after = fail_after
        self.closed = 0
        self.position = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.fail_after is not None and self.position == self.fail_after:
            raise ConnectionResetError("peer went away")
        if self.position >= len(self.items):
            raise StopIteration
        self.position += 1
        return self.items[self.position - 1]

    def close(self):
        self.closed += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_usage(call, chunk):
    if chunk == "usage":
        call.usage = Usage(input_tokens=5, output_tokens=2)
        return True  # hide it from the app
    return False


def test_stream_proxy_reads_usage_hides_requested_chunks_and_ends_once(otel, telemetry):
    call = _start(telemetry)
    stream = SyncStreamProxy(Chunks(["a", "b", "usage"]), call, _read_usage)
    assert list(stream) == ["a", "b"]
    assert list(stream) == []
    stream.close()

    [span] = otel.spans()
    assert span.attributes["gen_ai.usage.input_tokens"] == 5
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0


@pytest.mark.parametrize("how", ["close", "with", "drop"])
def test_stream_proxy_ends_on_every_exit(otel, telemetry, how):
    call = _start(telemetry)
    chunks = Chunks(["a", "b", "c"])
    stream = SyncStreamProxy(chunks, call, _read_usage)
    if how == "close":
        next(stream)
        stream.close()
        assert chunks.closed == 1
    elif how == "with":
        with stream as entered:
            assert entered is stream
            next(stream)
        assert chunks.closed == 1
    else:
        next(stream)
        del stream
        gc.collect()
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.UNSET


def test_stream_proxy_error_is_reraised_unchanged(otel, telemetry):
    call = _start(telemetry)
    stream = SyncStreamProxy(Chunks(["a", "b"], fail_after=1), call, _read_usage)
    next(stream)
    with pytest.raises(ConnectionResetError) as raised:
        next(stream)
    assert str(raised.value) == "peer went away"
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ConnectionResetError"


def test_stream_proxy_survives_a_broken_chunk_reader(otel, telemetry, caplog):
    def broken(call, chunk):
        raise ValueError("cannot read this chunk")

    call = _start(telemetry)
    with caplog.at_level(logging.DEBUG, logger="llmledger.instrumentation"):
        assert list(SyncStreamProxy(Chunks(["a", "b"]), call, broken)) == ["a", "b"]
    assert "cannot read this chunk" in caplog.text
    assert len(otel.spans()) == 1


class AsyncChunks:
    def __init__(self, items):
        self.items = list(items)
        self.closed = 0

    def __aiter__(self):
        return self

    async def __anext__(self):
        if not self.items:
            raise StopAsyncIteration
        return self.items.pop(0)

    async def close(self):
        self.closed += 1


def test_async_stream_proxy(otel, telemetry):
    async def run():
        exhausted = AsyncStreamProxy(AsyncChunks(["a", "usage"]), _start(telemetry), _read_usage)
        received = [chunk async for chunk in exhausted]
        closed_early = AsyncChunks(["a", "b"])
        stream = AsyncStreamProxy(closed_early, _start(telemetry), _read_usage)
        await stream.__anext__()
        await stream.aclose()  # the SDK stream has only close(): aclose() falls back to it
        return received, closed_early.closed

    received, closed = asyncio.run(run())
    assert received == ["a"]
    assert closed == 1
    first, second = otel.spans()
    assert first.attributes["gen_ai.usage.output_tokens"] == 2
    assert "gen_ai.usage.output_tokens" not in second.attributes


# --- settings and patching -----------------------------------------------------------


@pytest.mark.parametrize("variable, value, message", [
    ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "maybe",
     "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT must be true or false, got 'maybe'"),
    ("LLMLEDGER_CAPTURE_CONTENT_MAX_CHARS", "lots",
     "LLMLEDGER_CAPTURE_CONTENT_MAX_CHARS must be a whole number of characters, got 'lots'"),
    ("LLMLEDGER_CAPTURE_CONTENT_MAX_CHARS", "-1", "LLMLEDGER_CAPTURE_CONTENT_MAX_CHARS must not be negative"),
])
def test_bad_settings_name_the_variable(variable, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({variable: value})


def test_settings_defaults_keep_content_private():
    settings = Settings.from_env({})
    assert settings.capture_content is False
    assert settings.openai_include_usage is False
    assert Settings.from_env({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"}).capture_content
    assert Settings.from_env({"OTEL_METRICS_EXPORTER": "none"}).record_metrics is False


def test_missing_wrap_target_is_skipped():
    assert wrap("json", "NoSuchClass.method", lambda wrapped, instance, args, kwargs: None) is False
    assert wrap("no_such_module_anywhere", "f", lambda wrapped, instance, args, kwargs: None) is False
    assert foreign_wrapper("json", "dumps") is None
