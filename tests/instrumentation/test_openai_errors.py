"""Failed calls: the app gets the SDK's own exception, the span says what failed."""
from __future__ import annotations

import asyncio

import openai
import pytest
from opentelemetry.trace import StatusCode

from fake_openai import FakeOpenAI
from openai_fixtures import fake, instrument, instrumented  # noqa: F401

MESSAGES = [{"role": "user", "content": "Say hello."}]


@pytest.mark.parametrize("status, error_class", [
    (401, openai.AuthenticationError),
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
])
def test_http_errors(otel, instrumented, fake, status, error_class):
    client = openai.OpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)
    fake.fail_next(status)
    with pytest.raises(error_class) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    # Unchanged: the SDK's exception with the provider's status and body.
    assert raised.value.status_code == status
    assert raised.value.body["message"] == fake_error_message(status)
    [span] = otel.spans()
    assert span.name == "chat gpt-4o-mini"
    assert span.status.status_code is StatusCode.ERROR
    assert fake_error_message(status) in span.status.description
    assert span.attributes["error.type"] == error_class.__name__
    assert not [k for k in span.attributes if k.startswith("gen_ai.usage.") or k.startswith("gen_ai.response.")]
    [duration] = otel.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == error_class.__name__
    assert otel.metric_points("gen_ai.client.token.usage") == []


def fake_error_message(status: int) -> str:
    from fake_openai import ERROR_BODIES

    return ERROR_BODIES[status]["message"]


def test_async_http_error(otel, instrumented, fake):
    client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)
    fake.fail_next(429)

    async def call():
        await client.responses.create(model="gpt-4.1", input="hi")

    with pytest.raises(openai.RateLimitError):
        asyncio.run(call())
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "RateLimitError"


def test_streamed_call_rejected_before_streaming(otel, instrumented, fake):
    client = openai.OpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)
    fake.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    [span] = otel.spans()
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["error.type"] == "InternalServerError"


def test_timeout(otel, instrumented, fake):
    client = openai.OpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0, timeout=0.2)
    fake.delay_next(1.0)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "APITimeoutError"


def test_async_timeout(otel, instrumented, fake):
    client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0, timeout=0.2)
    fake.delay_next(1.0)

    async def call():
        await client.embeddings.create(model="text-embedding-3-small", input="hi")

    with pytest.raises(openai.APITimeoutError):
        asyncio.run(call())
    [span] = otel.spans()
    assert span.attributes["error.type"] == "APITimeoutError"


def test_retried_call_is_one_span_with_the_final_outcome(otel, instrumented, fake):
    client = openai.OpenAI(base_url=fake.base_url, api_key="test-key", max_retries=2)
    fake.fail_next(429)
    fake.fail_next(500)
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert completion.id == "chatcmpl-fake-1"
    assert len(fake.requests) == 3  # two failures, then the answer
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in span.attributes
    assert span.attributes["gen_ai.usage.input_tokens"] == 1200


def test_connection_refused(otel, instrumented):
    with FakeOpenAI() as gone:
        base_url = gone.base_url  # a port nobody listens on once this server is closed
    client = openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    [span] = otel.spans()
    assert span.attributes["error.type"] == "APIConnectionError"
