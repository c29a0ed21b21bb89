"""Routing inside the real SDKs: the patch rewrites the model of the app's call, a budget's
downgrade is one rule kind, and provider errors fall back to another model or provider.
Every span says which model was asked for, which one was used, and why."""
from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anthropic
import openai
import pytest
from fake_anthropic import FakeAnthropic, error_reply
from fake_openai import FakeOpenAI

from llmledger.instrumentation import attribute, budget
from llmledger.instrumentation._genai import routing
from llmledger.instrumentation.anthropic import AnthropicInstrumentor
from llmledger.instrumentation.openai import OpenAIInstrumentor

ROUTES = """
routes:
  - name: faq-on-mini
    when: {feature: faq, model: gpt-4o}
    model: gpt-4o-mini
budget:
  - name: research-to-41-mini
    when: {team: research}
    model: gpt-4.1-mini
fallbacks:
  - name: busy
    when: {model: gpt-4o}
    on: [429, 5xx]
    to:
      - model: gpt-4.1
  - name: backup-provider
    when: {model: o4-mini}
    on: [5xx]
    to:
      - {model: o4-mini, base_url: "BACKUP_URL", api_key_env: BACKUP_KEY}
  - name: claude-busy
    when: {model: claude-sonnet-4*}
    on: [429]
    to:
      - model: claude-3-5-haiku-20241022
"""


@pytest.fixture
def sdk(otel):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    with FakeOpenAI() as fake, FakeOpenAI() as backup:
        routing.configure(routing.parse_routing(ROUTES.replace("BACKUP_URL", backup.base_url)))
        yield fake, backup, openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    instrumentor.uninstrument()


def _ask(client, model="gpt-4o"):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}])


def _attributes(span) -> dict:
    return dict(span.attributes)


def test_a_route_rewrites_the_model_the_app_asked_for(sdk, otel):
    fake, _, client = sdk
    with attribute(feature="faq"):
        answer = _ask(client)
    assert fake.requests[-1].body["model"] == "gpt-4o-mini"
    assert answer.model == "gpt-4o-mini-2024-07-18"
    span = otel.spans()[-1]
    found = _attributes(span)
    assert span.name == "chat gpt-4o-mini"
    assert (found["gen_ai.request.model"], found["llmledger.routing.requested_model"]) == ("gpt-4o-mini", "gpt-4o")
    assert (found["llmledger.routing.kind"], found["llmledger.routing.reason"]) == ("rule", "route faq-on-mini")
    _ask(client)  # not the faq feature: as asked
    assert fake.requests[-1].body["model"] == "gpt-4o"
    assert "llmledger.routing.requested_model" not in _attributes(otel.spans()[-1])


def test_a_429_falls_back_to_another_model(sdk, otel):
    fake, _, client = sdk
    fake.fail_next(429)
    answer = _ask(client)
    assert answer.model == "gpt-4.1-2025-04-14"
    assert [r.body["model"] for r in fake.requests] == ["gpt-4o", "gpt-4.1"]
    failed, fallback = otel.spans()
    assert _attributes(failed)["error.type"] == "RateLimitError"
    found = _attributes(fallback)
    assert found["llmledger.routing.kind"] == "fallback"
    assert found["llmledger.routing.requested_model"] == "gpt-4o"
    assert found["llmledger.routing.reason"] == "fallback busy after 429"
    # The fallback's span is a sibling of the failed one, not its child.
    assert fallback.parent == failed.parent


def test_a_5xx_falls_back_to_another_provider(sdk, otel, monkeypatch):
    fake, backup, client = sdk
    monkeypatch.setenv("BACKUP_KEY", "backup-key")
    fake.fail_next(503)
    _ask(client, "o4-mini")
    assert len(fake.requests) == 1 and len(backup.requests) == 1
    headers = {name.lower(): value for name, value in backup.requests[0].headers.items()}
    assert headers["authorization"] == "Bearer backup-key"
    found = _attributes(otel.spans()[-1])
    assert found["server.port"] == backup.port and found["llmledger.routing.kind"] == "fallback"


def test_errors_without_a_fallback_reach_the_app(sdk):
    fake, _, client = sdk
    fake.fail_next(400)
    with pytest.raises(openai.BadRequestError):
        _ask(client)
    fake.fail_next(429)
    fake.fail_next(429)  # the fallback fails too: the app sees the last error
    with pytest.raises(openai.RateLimitError):
        _ask(client)
    assert [r.body["model"] for r in fake.requests[-2:]] == ["gpt-4o", "gpt-4.1"]


def test_async_fallback(sdk):
    fake, _, _ = sdk
    client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    fake.fail_next(500)
    answer = asyncio.run(client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}]))
    assert answer.model == "gpt-4.1-2025-04-14"


class _DegradingBudgetService:
    """Answers every budget check with a downgrade to `fallback_model`, as a hard budget does."""

    def __init__(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = json.dumps({"decision": "degrade", "budget_id": "b", "fallback_model": "gpt-4o-mini"}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{service.server.server_address[1]}"


@pytest.fixture
def degrading_budget():
    service = _DegradingBudgetService()
    budget.enable(url=service.url, cache_seconds=0)
    yield
    budget.disable()
    service.server.shutdown()


def test_a_budget_downgrade_is_a_rule_kind(sdk, otel, degrading_budget):
    fake, _, client = sdk
    with attribute(team="research"):
        _ask(client)
    assert fake.requests[-1].body["model"] == "gpt-4.1-mini"  # the routing file's budget rule
    found = _attributes(otel.spans()[-1])
    assert (found["llmledger.routing.kind"], found["llmledger.routing.reason"]) == (
        "budget", "budget rule research-to-41-mini")
    _ask(client, "gpt-4.1")  # no budget rule for this team: the budget's own fallback_model
    assert fake.requests[-1].body["model"] == "gpt-4o-mini"
    assert _attributes(otel.spans()[-1])["llmledger.routing.requested_model"] == "gpt-4.1"


def test_without_a_routing_file_the_budget_degrades_as_before(sdk, otel, degrading_budget):
    fake, _, client = sdk
    routing.configure(None)
    _ask(client)
    assert fake.requests[-1].body["model"] == "gpt-4o-mini"
    assert _attributes(otel.spans()[-1])["llmledger.routing.reason"] == "budget fallback_model"


def test_anthropic_falls_back_too(otel):
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    routing.configure(routing.parse_routing(ROUTES.replace("BACKUP_URL", "http://127.0.0.1:1")))
    try:
        with FakeAnthropic() as fake:
            fake.queue(error_reply(429))
            client = anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0)
            message = client.messages.create(model="claude-sonnet-4-20250514", max_tokens=10,
                                             messages=[{"role": "user", "content": "Hi"}])
            assert [r.body["model"] for r in fake.requests] == ["claude-sonnet-4-20250514",
                                                                 "claude-3-5-haiku-20241022"]
            assert message.model == "claude-3-5-haiku-20241022"
    finally:
        instrumentor.uninstrument()
    assert _attributes(otel.spans()[-1])["llmledger.routing.requested_model"] == "claude-sonnet-4-20250514"
