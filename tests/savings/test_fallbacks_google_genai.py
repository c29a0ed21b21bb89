"""The routing file's fallbacks inside the real google-genai SDK, against local fake Gemini
servers: after a provider error the call is sent again with the fallback's model (plain and
streamed, sync and async), to another endpoint of the same API when the target names one,
and its span says so. Targets on another provider are skipped.

Google's published prices per 1M tokens: gemini-2.5-pro 1.25 in / 10 out;
gemini-2.5-flash 0.30 in / 2.50 out."""
from __future__ import annotations

import asyncio
import logging
import socket
from decimal import Decimal

import pytest
from budget_and_cost import priced
from fake_gemini import FakeGemini, GeminiReply, google_error
from google import genai
from google.genai import errors, types

from llmledger.instrumentation._genai import routing
from llmledger.instrumentation.google_genai import GoogleGenAIInstrumentor

USAGE = {"promptTokenCount": 1000, "candidatesTokenCount": 200, "totalTokenCount": 1200}
ROUTES = """
fallbacks:
  - name: pro-busy
    when: {model: gemini-2.5-pro}
    on: [429, 5xx]
    to:
      - {model: gpt-4o, provider: openai}
      - model: gemini-2.5-flash
  - name: backup-endpoint
    when: {model: gemini-2.5-flash-lite}
    on: [5xx, connection]
    to:
      - {model: gemini-2.5-flash-lite, base_url: "BACKUP_URL", api_key_env: BACKUP_KEY}
  - name: elsewhere-only
    when: {model: gemini-2.0-flash}
    on: [5xx]
    to:
      - {model: claude-3-5-haiku-20241022, provider: anthropic}
"""


@pytest.fixture
def sdk(otel):
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    with FakeGemini() as fake, FakeGemini() as backup:
        fake.default_reply = GeminiReply(usage=USAGE)
        routing.configure(routing.parse_routing(ROUTES.replace("BACKUP_URL", backup.base_url)))
        yield fake, backup, _client(fake.base_url)
    instrumentor.uninstrument()


def _client(base_url: str) -> genai.Client:
    return genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=base_url, retry_options=types.HttpRetryOptions(attempts=1)))


def _models(fake) -> list[str]:
    return [r.path.split("?")[0].rsplit("/", 1)[-1].split(":")[0] for r in fake.requests]


def test_a_5xx_falls_back_to_the_next_model(sdk, otel):
    fake, _, client = sdk
    fake.queue(google_error(503))
    answer = client.models.generate_content(model="gemini-2.5-pro", contents="Hi")
    assert answer.text == "Hello from the fake." and answer.model_version == "gemini-2.5-flash"
    assert _models(fake) == ["gemini-2.5-pro", "gemini-2.5-flash"]  # the openai target was skipped
    failed, fallback = otel.spans()
    assert failed.attributes["error.type"] == "ServerError"
    found = dict(fallback.attributes)
    assert found["gen_ai.request.model"] == "gemini-2.5-flash"
    assert found["llmledger.routing.kind"] == "fallback"
    assert found["llmledger.routing.requested_model"] == "gemini-2.5-pro"
    assert found["llmledger.routing.reason"] == "fallback pro-busy after 503"
    assert fallback.parent == failed.parent
    [call] = priced([fallback], savings=True)
    # On gemini-2.5-pro: 1,000 x 1.25/1M + 200 x 10/1M = 0.00125 + 0.002 = 0.00325
    # Paid on gemini-2.5-flash: 1,000 x 0.30/1M + 200 x 2.50/1M = 0.0008. Saved: 0.00245
    assert (call.cost, call.saved_cost, call.saving_strategy) == (
        Decimal("0.0008"), Decimal("0.00245"), "fallback")


def test_streamed_calls_fall_back_sync_and_async(sdk, otel):
    fake, _, client = sdk
    fake.queue(google_error(500))
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-pro", contents="Hi"))
    assert "".join(c.text for c in chunks) == "Hello from the fake."

    async def scenario():
        fake.queue(google_error(429))
        plain = await client.aio.models.generate_content(model="gemini-2.5-pro", contents="Hi")
        fake.queue(google_error(503))
        stream = await client.aio.models.generate_content_stream(model="gemini-2.5-pro", contents="Hi")
        return plain, [c.text async for c in stream]

    plain, texts = asyncio.run(scenario())
    assert plain.model_version == "gemini-2.5-flash" and "".join(texts) == "Hello from the fake."
    assert _models(fake) == ["gemini-2.5-pro", "gemini-2.5-flash"] * 3
    spans = otel.spans()
    assert [s.attributes.get("llmledger.routing.kind") for s in spans] == [None, "fallback"] * 3
    assert [s.attributes.get("llmledger.routing.reason") for s in spans[1::2]] == [
        "fallback pro-busy after 500", "fallback pro-busy after 429", "fallback pro-busy after 503"]
    assert all(s.attributes["gen_ai.usage.input_tokens"] == 1000 for s in spans[1::2])


def test_a_target_on_another_endpoint_gets_its_base_url_and_key(sdk, otel, monkeypatch):
    fake, backup, client = sdk
    monkeypatch.setenv("BACKUP_KEY", "backup-key")
    fake.queue(google_error(503))
    client.models.generate_content(model="gemini-2.5-flash-lite", contents="Hi")
    assert len(fake.requests) == 1 and _models(backup) == ["gemini-2.5-flash-lite"]
    headers = {name.lower(): value for name, value in backup.requests[0].headers.items()}
    assert headers["x-goog-api-key"] == "backup-key"
    found = dict(otel.spans()[-1].attributes)
    assert found["server.port"] == backup.port and found["llmledger.routing.kind"] == "fallback"


def test_a_connection_failure_falls_back(sdk, otel):
    _, backup, _ = sdk
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    client = _client(closed)  # kept: the SDK closes its HTTP client when the `Client` is collected
    answer = client.models.generate_content(model="gemini-2.5-flash-lite", contents="Hi")
    assert answer.text == "Hello from the fake." and len(backup.requests) == 1
    failed, fallback = otel.spans()
    assert "Connect" in failed.attributes["error.type"]
    assert fallback.attributes["llmledger.routing.reason"].startswith("fallback backup-endpoint after ")


def test_errors_without_a_reachable_fallback_reach_the_app(sdk, caplog):
    fake, _, client = sdk
    fake.queue(google_error(400))
    with pytest.raises(errors.ClientError):
        client.models.generate_content(model="gemini-2.5-pro", contents="Hi")
    fake.queue(google_error(503), google_error(503))  # the fallback fails too: the app sees its error
    with pytest.raises(errors.ServerError):
        client.models.generate_content(model="gemini-2.5-pro", contents="Hi")
    assert _models(fake)[-2:] == ["gemini-2.5-pro", "gemini-2.5-flash"]
    fake.queue(google_error(503))
    with caplog.at_level(logging.WARNING, "llmledger.instrumentation"), pytest.raises(errors.ServerError) as raised:
        client.models.generate_content(model="gemini-2.0-flash", contents="Hi")
    assert raised.value.code == 503 and _models(fake)[-1] == "gemini-2.0-flash"  # its only target is elsewhere
    assert "claude-3-5-haiku-20241022 on anthropic skipped" in caplog.text
