"""The opt-in budget guard inside the real openai SDK, deciding from a running
`llmledger serve`: a call a hard budget forbids raises BudgetExceededError before any
request leaves the app; a degrading budget swaps in the cheaper model; with the service
down, fail-open lets calls through and fail-closed refuses them."""
from __future__ import annotations

import time

import openai
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from fake_openai import FakeOpenAI
from llmledger.instrumentation import attribute, budget
from llmledger.instrumentation.openai import OpenAIInstrumentor
from service_harness import start_service

# One chat call costs 0.0002832 (see test_openai_e2e.py): a 0.0004 limit allows one call, not two.
BUDGETS = """
budgets:
  - id: capped-app
    scope: app
    value: capped
    window: daily
    limit: 0.0004
  - id: research-degrades
    scope: team
    value: research
    window: daily
    limit: 0.0001
    fallback_model: gpt-4o-mini
"""


@pytest.fixture
def guarded(tmp_path):
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(BUDGETS)
    service = start_service(tmp_path / "data", "--budgets", str(budgets))
    provider = TracerProvider(resource=Resource.create({"service.name": "capped"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{service.http_url}/v1/traces")))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    budget.enable(url=service.http_url, cache_seconds=0, fail_open=True)
    try:
        with FakeOpenAI() as fake:
            yield service, fake, openai.OpenAI(api_key="k", base_url=fake.base_url, max_retries=0)
    finally:
        budget.disable()
        instrumentor.uninstrument()
        provider.shutdown()
        service.stop()


def _ask(client, model="gpt-4o-mini"):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}])


def test_a_spent_hard_budget_stops_the_call_before_it_is_sent(guarded):
    service, fake, client = guarded
    _ask(client)  # 0.0002832 of 0.0004
    assert service.wait_for("SELECT count() FROM llm_spans", 1) == 1
    _ask(client)  # the check still allows it: the spend was under the limit when asked
    assert service.wait_for("SELECT count() FROM llm_spans", 2) == 2
    sent = len(fake.requests)
    deadline = time.monotonic() + 10
    with pytest.raises(budget.BudgetExceededError) as refused:
        while time.monotonic() < deadline:
            _ask(client)
            sent += 1
            time.sleep(0.2)
    assert len(fake.requests) == sent  # the refused call never reached the provider
    assert refused.value.budget_id == "capped-app" and refused.value.retry_after > 0
    # The refusal is visible in the traces, as an errored span without tokens or cost, and
    # in the ledger as a refused call: not an unpriced one, and costing nothing.
    assert service.wait_for("SELECT count() FROM otel_traces WHERE StatusCode = 'Error'", 1) == 1
    assert service.wait_for("SELECT count() FROM v_llm_calls WHERE status = 'Refused'", 1) == 1
    assert service.query("SELECT cost, unpriced FROM v_llm_calls WHERE status = 'Refused'") == [
        {"cost": None, "unpriced": 0}]


def test_a_degrading_budget_swaps_in_the_cheaper_model(guarded):
    service, fake, client = guarded
    with attribute(app="lab", team="research"):  # not the capped app
        _ask(client, model="gpt-4o")  # research has not spent yet: goes as asked
        assert service.wait_for("SELECT count() FROM llm_spans WHERE team = 'research'", 1) == 1
        deadline = time.monotonic() + 10
        while fake.requests[-1].body["model"] != "gpt-4o-mini":
            assert time.monotonic() < deadline, "never degraded"
            _ask(client, model="gpt-4o")
            time.sleep(0.2)
    assert service.wait_for("SELECT count() FROM llm_spans WHERE request_model = 'gpt-4o-mini'", 1) == 1


def test_service_down_fail_open_and_fail_closed(guarded):
    service, fake, client = guarded
    service.stop()
    _ask(client)  # fail-open: the call goes through
    budget.enable(url=service.http_url, cache_seconds=0, fail_open=False)
    with pytest.raises(budget.BudgetServiceUnavailableError):
        _ask(client)
