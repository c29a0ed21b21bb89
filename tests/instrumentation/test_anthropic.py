"""The Anthropic instrumentor, non-streamed calls: the real anthropic SDK against a
local server speaking Anthropic's wire format, the real OTel SDK collecting spans
and metrics in memory."""
from __future__ import annotations

import asyncio
import logging
import subprocess
import sys

import anthropic
import pytest
import wrapt
from opentelemetry.trace import SpanKind, StatusCode

from fake_anthropic import FakeAnthropic, MessageReply, Usage, error_reply
from llmledger.instrumentation import attribute
from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation.anthropic import AnthropicInstrumentor
from llmledger.instrumentation.anthropic.patches import provider_of

HELLO = [{"role": "user", "content": "Hello"}]
SCOPE = "llmledger.instrumentation.anthropic"

# 100 fresh input tokens, 2000 read from the cache, 300 written to it;
# 50 output tokens of which 20 were thinking.
CACHED_USAGE = Usage(
    input_tokens=100, output_tokens=50, cache_read_input_tokens=2000, cache_creation_input_tokens=300,
    thinking_tokens=20, service_tier="priority",
)
# The conventions' input count includes the cache: 100 + 2000 + 300.
CACHED_INPUT_TOTAL = 2400


@pytest.fixture
def fake():
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def instrument(otel):
    """Instrument into the in-memory providers; undone after the test."""
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


def client_for(fake, **options):
    options.setdefault("max_retries", 0)
    # The SDK's own spans go to the global (no-op) provider unless a test says otherwise.
    return anthropic.Anthropic(api_key="test-key", base_url=fake.base_url, **options)


def async_client_for(fake, **options):
    options.setdefault("max_retries", 0)
    return anthropic.AsyncAnthropic(api_key="test-key", base_url=fake.base_url, **options)


def llmledger_spans(otel):
    return [span for span in otel.spans() if span.instrumentation_scope.name == SCOPE]


def test_create_records_one_client_span_with_every_attribute(otel, fake, instrumented):
    fake.queue(MessageReply(model="claude-sonnet-4-20250514", message_id="msg_01ABC", stop_reason="max_tokens",
                            usage=CACHED_USAGE))
    message = client_for(fake).messages.create(
        model="claude-sonnet-4-0", max_tokens=50, messages=HELLO, stop_sequences=["END"], service_tier="auto",
    )

    assert message.usage.input_tokens == 100  # the app sees the SDK's own object, untouched
    [span] = otel.spans()
    assert span.name == "chat claude-sonnet-4-0"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is not StatusCode.ERROR
    assert span.instrumentation_scope.name == SCOPE
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-0",
        "gen_ai.request.stream": False,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.stop_sequences": ("END",),
        "anthropic.request.service_tier": "auto",
        "server.address": "127.0.0.1",
        "server.port": int(fake.base_url.rsplit(":", 1)[1]),
        "gen_ai.response.id": "msg_01ABC",
        "gen_ai.response.model": "claude-sonnet-4-20250514",
        "gen_ai.response.finish_reasons": ("max_tokens",),
        "anthropic.response.service_tier": "priority",
        "gen_ai.usage.input_tokens": CACHED_INPUT_TOTAL,
        "gen_ai.usage.output_tokens": 50,
        "gen_ai.usage.cache_read.input_tokens": 2000,
        "gen_ai.usage.cache_write.input_tokens": 300,
        "gen_ai.usage.reasoning.output_tokens": 20,
    }


def test_metrics_count_tokens_by_type_and_the_duration(otel, fake, instrumented):
    fake.queue(MessageReply(model="claude-sonnet-4-20250514", usage=CACHED_USAGE))
    client_for(fake).messages.create(model="claude-sonnet-4-0", max_tokens=50, messages=HELLO)

    by_type = {p.attributes["gen_ai.token.type"]: p for p in otel.metric_points("gen_ai.client.token.usage")}
    assert set(by_type) == {"input", "output"}
    assert (by_type["input"].count, by_type["input"].sum) == (1, CACHED_INPUT_TOTAL)
    assert (by_type["output"].count, by_type["output"].sum) == (1, 50)
    assert by_type["input"].attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-0",
        "gen_ai.response.model": "claude-sonnet-4-20250514",
        "server.address": "127.0.0.1",
        "server.port": int(fake.base_url.rsplit(":", 1)[1]),
        "gen_ai.token.type": "input",
    }
    [duration] = otel.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1
    assert otel.metric("gen_ai.client.operation.duration").unit == "s"
    assert otel.metric_points("gen_ai.client.operation.time_to_first_chunk") == []  # not a stream


def test_async_create(otel, fake, instrumented):
    fake.queue(MessageReply(usage=Usage(input_tokens=30, output_tokens=7)))

    async def main():
        return await async_client_for(fake).messages.create(model="claude-3-5-haiku-latest", max_tokens=10,
                                                            messages=HELLO)

    message = asyncio.run(main())
    assert message.content[0].text == "Hello from the fake."
    [span] = otel.spans()
    assert span.name == "chat claude-3-5-haiku-latest"
    assert span.attributes["gen_ai.usage.input_tokens"] == 30
    assert span.attributes["gen_ai.usage.output_tokens"] == 7
    assert span.attributes["gen_ai.response.model"] == "claude-3-5-haiku-latest"


def test_attribution_reaches_the_span(otel, fake, instrumented):
    client = client_for(fake)
    with attribute(app="support", user="u-42", feature="triage", plan="gold"):
        client.messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)
    client.messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)

    attributed, plain = otel.spans()
    assert {k: v for k, v in attributed.attributes.items() if not k.startswith(("gen_ai.", "server.", "anthropic."))} == {
        "llmledger.app": "support", "user.id": "u-42", "llmledger.feature": "triage", "llmledger.tag.plan": "gold",
    }
    assert "user.id" not in plain.attributes


def test_beta_messages_and_parse_are_traced(otel, fake, instrumented):
    client = client_for(fake)
    client.beta.messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO, betas=["context-1m"])
    parsed = client.messages.parse(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)

    assert parsed.usage.output_tokens == 6
    assert [span.name for span in otel.spans()] == ["chat claude-sonnet-4-0", "chat claude-sonnet-4-0"]
    assert [span.attributes["gen_ai.usage.input_tokens"] for span in otel.spans()] == [12, 12]


def test_with_raw_response_ends_the_span_with_usage(otel, fake, instrumented):
    fake.queue(MessageReply(usage=Usage(input_tokens=8, output_tokens=3)))
    raw = client_for(fake).messages.with_raw_response.create(model="claude-sonnet-4-0", max_tokens=10,
                                                             messages=HELLO)

    [span] = otel.spans()  # ended before the app parsed anything
    assert span.attributes["gen_ai.usage.input_tokens"] == 8
    assert raw.headers["request-id"] == "req_fake_0001"
    assert raw.parse().usage.output_tokens == 3
    assert len(otel.spans()) == 1


def test_async_with_raw_response_ends_the_span_with_usage(otel, fake, instrumented):
    fake.queue(MessageReply(usage=Usage(input_tokens=8, output_tokens=3)))

    async def main():
        raw = await async_client_for(fake).messages.with_raw_response.create(
            model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)
        assert len(otel.spans()) == 1
        return await raw.parse()

    assert asyncio.run(main()).usage.input_tokens == 8
    [span] = otel.spans()
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (8, 3)


def test_with_streaming_response_ends_when_the_body_is_read(otel, fake, instrumented):
    fake.queue(MessageReply(usage=Usage(input_tokens=9, output_tokens=4)))
    with client_for(fake).messages.with_streaming_response.create(
        model="claude-sonnet-4-0", max_tokens=10, messages=HELLO
    ) as response:
        assert otel.spans() == []  # the body has not been read yet
        message = response.parse()
        [span] = otel.spans()
    assert message.usage.input_tokens == 9
    assert span.attributes["gen_ai.usage.output_tokens"] == 4
    assert len(otel.spans()) == 1


def test_with_streaming_response_never_read_still_ends_once(otel, fake, instrumented):
    with client_for(fake).messages.with_streaming_response.create(
        model="claude-sonnet-4-0", max_tokens=10, messages=HELLO
    ) as response:
        assert response.status_code == 200
    [span] = otel.spans()
    assert "gen_ai.usage.input_tokens" not in span.attributes  # unread: nothing to report, nothing guessed


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (401, anthropic.AuthenticationError),
        (429, anthropic.RateLimitError),
        (500, anthropic.InternalServerError),
        (529, anthropic.OverloadedError),
    ],
)
def test_api_errors_mark_the_span_and_reach_the_app_unchanged(otel, fake, instrumented, status, exception):
    fake.queue(error_reply(status, message="nope"))
    with pytest.raises(exception) as raised:
        client_for(fake).messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)

    assert type(raised.value) is exception
    assert raised.value.status_code == status
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == exception.__name__
    assert "gen_ai.usage.input_tokens" not in span.attributes
    [duration] = otel.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == exception.__name__
    assert otel.metric_points("gen_ai.client.token.usage") == []


def test_timeout_marks_the_span(otel, fake, instrumented):
    fake.queue(MessageReply(delay=60))  # the server is released when the test ends
    with pytest.raises(anthropic.APITimeoutError):
        client_for(fake, timeout=0.2).messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "APITimeoutError"


def test_async_error_marks_the_span(otel, fake, instrumented):
    fake.queue(error_reply(429))

    async def main():
        await async_client_for(fake).messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)

    with pytest.raises(anthropic.RateLimitError):
        asyncio.run(main())
    [span] = otel.spans()
    assert span.attributes["error.type"] == "RateLimitError"


def test_retries_inside_the_sdk_make_one_span(otel, fake, instrumented):
    fake.queue(error_reply(529, retry_after_ms=1), MessageReply(usage=Usage(input_tokens=5, output_tokens=2)))
    client_for(fake, max_retries=1).messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)

    assert len(fake.requests) == 2
    [span] = otel.spans()
    assert span.status.status_code is not StatusCode.ERROR
    assert span.attributes["gen_ai.usage.input_tokens"] == 5


def test_count_tokens_is_not_a_cost_and_gets_no_span(otel, fake, instrumented):
    fake.count_tokens_result = 1234
    counted = client_for(fake).messages.count_tokens(model="claude-sonnet-4-0", messages=HELLO)
    assert counted.input_tokens == 1234
    assert otel.spans() == []
    assert otel.metric_points("gen_ai.client.token.usage") == []


def test_the_sdks_own_span_is_replaced_not_doubled(otel, fake, instrumented):
    # The anthropic SDK traces its own calls when given a tracer provider.
    sdk_tracing = {"tracer_provider": otel.tracer_provider}
    client = client_for(fake, open_telemetry=sdk_tracing)
    client.messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)
    client.messages.count_tokens(model="claude-sonnet-4-0", messages=HELLO)

    async def call_async():
        await async_client_for(fake, open_telemetry=sdk_tracing).messages.create(
            model="claude-3-5-haiku-latest", max_tokens=10, messages=HELLO)

    asyncio.run(call_async())

    create, count, create_async = otel.spans()
    assert create.instrumentation_scope.name == SCOPE
    assert create.attributes["gen_ai.usage.input_tokens"] == 12
    assert count.name == "anthropic.messages.count_tokens"  # the SDK keeps its spans for other calls
    assert count.instrumentation_scope.name != SCOPE
    assert (create_async.name, create_async.instrumentation_scope.name) == ("chat claude-3-5-haiku-latest", SCOPE)


def test_a_wrap_target_missing_from_the_sdk_is_skipped(otel, fake, instrument, monkeypatch, caplog):
    # Older anthropic versions have no tracing of their own to patch.
    import llmledger.instrumentation.anthropic as package

    monkeypatch.setattr(package, "_SDK_SPAN_TARGET", "a_function_this_sdk_version_lacks")
    with caplog.at_level(logging.INFO, logger="llmledger.instrumentation"):
        instrument()
    client_for(fake).messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)

    [span] = otel.spans()
    assert span.attributes["gen_ai.usage.input_tokens"] == 12
    assert "replaces the SDK's" not in caplog.text


def test_importing_the_instrumentation_imports_no_sdk_or_http_library():
    code = (
        "import sys\n"
        "import llmledger.instrumentation, llmledger.instrumentation.anthropic\n"
        "print(sorted(m for m in ('anthropic', 'httpx', 'httpx2', 'starlette') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_uninstrument_restores_the_sdk(otel, fake, instrument):
    base_client = anthropic._base_client
    originals = (vars(base_client.SyncAPIClient)["request"], vars(base_client.AsyncAPIClient)["request"],
                 base_client.start_api_call_span)
    instrument()
    assert vars(base_client.SyncAPIClient)["request"] is not originals[0]
    AnthropicInstrumentor().uninstrument()

    assert (vars(base_client.SyncAPIClient)["request"], vars(base_client.AsyncAPIClient)["request"],
            base_client.start_api_call_span) == originals
    client = client_for(fake, open_telemetry={"tracer_provider": otel.tracer_provider})
    client.messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)
    [span] = otel.spans()
    assert span.name == "anthropic.messages.create"  # only the SDK's own span is left


def test_vertex_client_shares_the_path_with_its_own_provider(otel, fake, instrumented):
    client = anthropic.AnthropicVertex(region="us-east5", project_id="proj", access_token="token",
                                       base_url=fake.base_url, max_retries=0)
    client.messages.create(model="claude-sonnet-4@20250514", max_tokens=10, messages=HELLO)
    with client.messages.stream(model="claude-sonnet-4@20250514", max_tokens=10, messages=HELLO) as stream:
        stream.until_done()

    assert [request.path.rsplit(":", 1)[1] for request in fake.requests] == ["rawPredict", "streamRawPredict"]
    spans = otel.spans()
    assert [span.name for span in spans] == ["chat claude-sonnet-4@20250514"] * 2
    assert [span.attributes["gen_ai.provider.name"] for span in spans] == ["gcp.vertex_ai"] * 2
    assert [span.attributes["gen_ai.usage.input_tokens"] for span in spans] == [12, 12]


def test_bedrock_client_is_named_aws_bedrock():
    client = anthropic.AnthropicBedrock(aws_access_key="a", aws_secret_key="b", aws_region="us-east-1")
    assert provider_of(client) == "aws.bedrock"
    assert provider_of(anthropic.Anthropic(api_key="k")) == "anthropic"


def test_message_content_is_only_captured_on_opt_in(otel, fake, instrument):
    instrument(Settings(capture_content=True, content_max_chars=10))
    client = client_for(fake)
    fake.queue(MessageReply(text="A long answer that will be cut", thinking="pondering"))
    client.messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO, system="Be brief.")

    [span] = otel.spans()
    assert span.attributes["gen_ai.input.messages"] == '[{"role":"user","parts":[{"type":"text","content":"Hello"}]}]'
    assert span.attributes["gen_ai.system_instructions"] == '[{"type":"text","content":"Be brief."}]'
    assert span.attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"reasoning","content":"pondering"},'
        '{"type":"text","content":"A long ans…[truncated]"}],"finish_reason":"end_turn"}]'
    )


def test_message_content_is_not_captured_by_default(otel, fake, instrumented):
    client_for(fake).messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO, system="secret")
    [span] = otel.spans()
    assert not [key for key in span.attributes if key.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system"))]


def test_a_broken_response_never_breaks_the_app(otel, fake, instrumented, caplog):
    # A server that reports usage the instrumentation cannot add up.
    fake.queue(MessageReply(usage=Usage(input_tokens="lots", output_tokens=3)))  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="llmledger.instrumentation"):
        message = client_for(fake).messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)

    assert message.usage.input_tokens == "lots"  # the app gets what the server said
    [span] = otel.spans()
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert "llmledger instrumentation error" in caplog.text


def _openllmetry_like_wrapper():
    """A wrapt wrapper that reports itself as OpenLLMetry's Anthropic instrumentation."""

    def wrapper(wrapped, instance, args, kwargs):
        return wrapped(*args, **kwargs)

    wrapper.__module__ = "opentelemetry.instrumentation.anthropic"
    return wrapper


@pytest.fixture
def other_instrumentation():
    from anthropic.resources.messages import Messages

    original = vars(Messages)["create"]

    def apply():
        wrapt.wrap_function_wrapper("anthropic.resources.messages", "Messages.create", _openllmetry_like_wrapper())

    yield apply
    Messages.create = original


def test_another_instrumentation_already_active_is_left_alone(otel, fake, instrument, other_instrumentation, caplog):
    other_instrumentation()
    with caplog.at_level(logging.WARNING, logger="llmledger.instrumentation"):
        instrument()
    client_for(fake).messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)

    assert "OpenLLMetry" in caplog.text and "counted twice" in caplog.text
    assert llmledger_spans(otel) == []


def test_another_instrumentation_loaded_after_us_is_noticed_at_the_first_call(
    otel, fake, instrument, other_instrumentation, caplog
):
    instrument()
    other_instrumentation()
    with caplog.at_level(logging.WARNING, logger="llmledger.instrumentation"):
        client_for(fake).messages.create(model="claude-sonnet-4-0", max_tokens=10, messages=HELLO)

    assert "OpenLLMetry" in caplog.text
    assert llmledger_spans(otel) == []
