"""The throttle: check() decisions, GET /v1/budgets/check on a real uvicorn server, the admin
routes, the ASGI middleware's 429, and the instrumentation guard with the service up and down."""
from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from decimal import Decimal

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from budget_harness import Clock, ThreadedUvicorn, at, free_port, llm_call, store_calls
from llmledger.instrumentation import attribute, budget
from llmledger.instrumentation.budget import (BudgetExceededError, BudgetGuard, BudgetMiddleware,
                                              BudgetServiceUnavailableError)
from llmledger.processor.budgets import BudgetService, budget_routes, parse_budget_document

BERLIN = "Europe/Berlin"
TOKEN = "admin-token-for-tests"
BUDGETS = {"budgets": [
    {"id": "chat-day", "app_id": "chatbot", "window": "daily", "timezone": BERLIN, "limit": 3},
    {"id": "mail-day", "app_id": "mail", "window": "daily", "timezone": BERLIN, "limit": 3,
     "fallback_model": "gpt-4o-mini"},
    {"id": "search-soft", "scope": "team", "value": "search", "window": "daily", "limit": 1, "hard": False},
    {"id": "apollo-hour", "scope": "tag:project", "value": "apollo", "window": "rolling", "duration": "1h",
     "limit": 2},
    {"id": "fresh-day", "app_id": "fresh", "window": "daily", "limit": 3},
]}


@pytest.fixture
def clock():
    return Clock(at("2026-03-10 22:15", BERLIN))  # 1 h 45 min = 6,300 s before midnight in Berlin


@pytest.fixture
def service(clickhouse, clock):
    svc = BudgetService(lambda: clickhouse, clock=clock)
    svc.set_budgets(parse_budget_document(BUDGETS).budgets)
    now = clock.now
    # Each call $1.50 (gpt-4o, 400k in × $2.50/M + 50k out × $10/M).
    calls = [llm_call(now - 600, app="chatbot"), llm_call(now - 500, app="chatbot"),  # 3.00 of 3
             llm_call(now - 600, app="mail"), llm_call(now - 400, app="mail"),  # 3.00 of 3
             llm_call(now - 300, app="other", team="search"),  # 1.50 of a soft 1
             llm_call(now - 3000, app="other", tags={"project": "apollo"}),  # 50 min ago
             llm_call(now - 600, app="other", tags={"project": "apollo"})]  # apollo: 3.00 of 2 this hour
    store_calls(clickhouse, calls)  # as the pipeline does: durable, then observed
    svc.observe(calls)
    return svc


@pytest.fixture
def api(service):
    app = Starlette(routes=budget_routes(
        service, authorize=lambda request: request.headers.get("authorization") == f"Bearer {TOKEN}"))
    server = ThreadedUvicorn(app)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def no_global_guard():
    yield
    budget.disable()


def test_check_decides_from_the_running_totals(service):
    deny = service.check(app="chatbot", user="u-1", model="gpt-4o")
    assert (deny.action, deny.budget_id, deny.spend, deny.remaining) == ("deny", "chat-day", Decimal("3.00"), 0)
    assert deny.retry_after == 6300  # until midnight in Berlin

    degrade = service.check(app="mail", model="gpt-4o")
    assert (degrade.action, degrade.fallback_model, degrade.retry_after) == ("degrade", "gpt-4o-mini", 6300)

    # A soft budget only alerts; the check shows the hard budget with the least left.
    allow = service.check(app="fresh", team="search")
    assert (allow.action, allow.budget_id, allow.remaining) == ("allow", "fresh-day", Decimal("3"))

    # The rolling hour allows again once the call of 50 minutes ago slides out: 10 minutes and
    # the rest of its minute, 660 s.
    rolling = service.check(app="nobody", tags={"project": "apollo"})
    assert (rolling.action, rolling.budget_id, rolling.retry_after) == ("deny", "apollo-hour", 660)

    # Two budgets refuse: the answer waits for the later reset.
    both = service.check(app="chatbot", tags={"project": "apollo"})
    assert (both.budget_id, both.retry_after) == ("chat-day", 6300)
    assert service.check(app="unbudgeted").to_dict() == {"decision": "allow", "allowed": True}


def test_observed_spend_denies_at_once_and_the_window_reset_allows_again(service, clock):
    assert service.check(app="fresh").allowed
    service.observe([llm_call(clock.now - 1, app="fresh"), llm_call(clock.now, app="fresh")])  # 3.00 of 3
    assert service.check(app="fresh").action == "deny"
    clock.now = at("2026-03-11 00:00", BERLIN)  # a new day in Berlin, but fresh-day counts UTC days
    assert service.check(app="fresh").action == "deny"
    clock.now = at("2026-03-11 00:00")
    assert service.check(app="fresh").action == "allow"


def _get(url: str, token: str | None = None, method: str = "GET", body: dict | None = None):
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_the_check_endpoint_answers_200_or_429_with_retry_after(api):
    status, headers, body = _get(f"{api.url}/v1/budgets/check?app=chatbot&user=u-1&model=gpt-4o")
    assert (status, headers["Retry-After"]) == (429, "6300")
    assert body == {"decision": "deny", "allowed": False, "budget_id": "chat-day", "scope": "app",
                    "scope_value": "chatbot", "window": "daily (Europe/Berlin)", "limit": "3", "spend": "3",
                    "remaining": "0", "retry_after": 6300}

    status, headers, body = _get(f"{api.url}/v1/budgets/check?app=mail&model=gpt-4o")
    assert (status, body["decision"], body["fallback_model"]) == (200, "degrade", "gpt-4o-mini")
    assert "Retry-After" not in headers

    assert _get(f"{api.url}/v1/budgets/check?app=other&tag.project=apollo")[0] == 429
    assert _get(f"{api.url}/v1/budgets/check?app=other")[2] == {"decision": "allow", "allowed": True}
    status, _, body = _get(f"{api.url}/v1/budgets/check?application=chatbot")
    assert status == 400 and "unknown parameter 'application'" in body["error"]


def test_admin_routes_need_the_token_and_edit_the_budgets(api, service):
    assert _get(f"{api.url}/v1/budgets")[0] == 401
    assert _get(f"{api.url}/v1/budgets", token="guess")[0] == 401
    status, _, body = _get(f"{api.url}/v1/budgets", token=TOKEN)
    statuses = {s["id"]: s for s in body["budgets"]}
    assert (statuses["chat-day"]["spend"], statuses["chat-day"]["exceeded"]) == ("3", True)

    new = {"budgets": [{"id": "other-day", "app_id": "other", "window": "daily", "limit": 1}]}
    assert _get(f"{api.url}/v1/budgets", token=TOKEN, method="POST", body=new)[2] == {"ids": ["other-day"]}
    assert _get(f"{api.url}/v1/budgets/check?app=other")[0] == 429  # the 1.50 already spent counts

    status, _, body = _get(f"{api.url}/v1/budgets", token=TOKEN, method="POST",
                           body={"budgets": [{"app_id": "x", "dialy_limit": 1}]})
    assert status == 400 and "budgets[0].dialy_limit: unknown key" in body["error"]

    assert _get(f"{api.url}/v1/budgets/other-day", token=TOKEN, method="DELETE")[2] == {"deleted": ["other-day"]}
    assert _get(f"{api.url}/v1/budgets/other-day", token=TOKEN, method="DELETE")[0] == 404
    assert _get(f"{api.url}/v1/budgets/check?app=other")[0] == 200


def _app_behind(guard: BudgetGuard | None):
    async def handler(request: Request):
        return JSONResponse({"fallback_model": getattr(request.state, "llmledger_fallback_model", None)})

    return BudgetMiddleware(Starlette(routes=[Route("/chat", handler, methods=["POST"])]), guard=guard)


def test_the_middleware_refuses_over_budget_requests_with_429(api):
    client = TestClient(_app_behind(BudgetGuard(api.url, cache_seconds=0)))
    refused = client.post("/chat", headers={"X-App-ID": "chatbot", "X-User-ID": "u-1"})
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "6300")
    assert refused.json()["budget_id"] == "chat-day"
    degraded = client.post("/chat", headers={"X-App-ID": "mail"})
    assert (degraded.status_code, degraded.json()) == (200, {"fallback_model": "gpt-4o-mini"})
    assert client.post("/chat", headers={"X-App-ID": "fresh"}).json() == {"fallback_model": None}


def test_the_middleware_with_the_service_down_fails_open_or_closed():
    down = f"http://127.0.0.1:{free_port()}"
    open_client = TestClient(_app_behind(BudgetGuard(down, fail_open=True)))
    assert open_client.post("/chat", headers={"X-App-ID": "chatbot"}).status_code == 200
    closed = TestClient(_app_behind(BudgetGuard(down, fail_open=False))).post("/chat", headers={"X-App-ID": "a"})
    assert closed.status_code == 503 and "cannot reach the budget service" in closed.json()["error"]
    assert TestClient(_app_behind(None)).post("/chat").status_code == 200  # no guard enabled: untouched


def test_the_guard_raises_before_an_over_budget_call(api):
    budget.enable(url=api.url, cache_seconds=0)
    with pytest.raises(BudgetExceededError) as refused:
        budget.check_before_call({"llmledger.app": "chatbot", "gen_ai.request.model": "gpt-4o"})
    assert (refused.value.budget_id, refused.value.retry_after) == ("chat-day", 6300)
    assert str(refused.value) == "budget chat-day is spent (3 of 3 USD, daily (Europe/Berlin) window); retry in 6300 s"

    assert budget.check_before_call({"llmledger.app": "mail", "gen_ai.request.model": "gpt-4o"}) == "gpt-4o-mini"
    assert budget.check_before_call({"llmledger.app": "fresh"}) is None
    with attribute(app="chatbot"):  # attribution from the context counts too
        with pytest.raises(BudgetExceededError):
            budget.check_before_call({"gen_ai.request.model": "gpt-4o"})
    with pytest.raises(BudgetExceededError):
        asyncio.run(budget.acheck_before_call({"llmledger.tag.project": "apollo"}))


def test_the_guard_caches_decisions(api, service, clock):
    guard = BudgetGuard(api.url, cache_seconds=3600)
    assert guard.check({"llmledger.app": "fresh"}) is None
    service.observe([llm_call(clock.now, app="fresh", cost=Decimal("3"))])
    assert guard.check({"llmledger.app": "fresh"}) is None  # the cached answer; the service was not asked
    guard.clear_cache()
    with pytest.raises(BudgetExceededError):
        guard.check({"llmledger.app": "fresh"})


def test_the_guard_with_the_service_going_down(api):
    fail_open = BudgetGuard(api.url, cache_seconds=0, fail_open=True)
    fail_closed = BudgetGuard(api.url, cache_seconds=0, fail_open=False)
    assert fail_open.check({"llmledger.app": "fresh"}) is None
    assert fail_closed.check({"llmledger.app": "fresh"}) is None
    api.stop()
    assert fail_open.check({"llmledger.app": "chatbot"}) is None  # unknown now: let it through
    with pytest.raises(BudgetServiceUnavailableError, match="cannot reach the budget service"):
        fail_closed.check({"llmledger.app": "fresh"})


def test_the_guard_is_enabled_by_the_environment_and_is_off_otherwise(api, monkeypatch):
    assert budget.check_before_call({"llmledger.app": "chatbot"}) is None  # not enabled: does nothing
    monkeypatch.setenv("LLMLEDGER_BUDGET_URL", api.url)
    monkeypatch.setenv("LLMLEDGER_BUDGET_FAIL_OPEN", "false")
    monkeypatch.setattr(budget, "_environment_read", False)  # as in a freshly started process
    with pytest.raises(BudgetExceededError):
        budget.check_before_call({"llmledger.app": "chatbot"})
    assert budget.active_guard().fail_open is False


def test_the_guard_names_the_app_from_the_resource_when_the_span_does_not(monkeypatch):
    provider = TracerProvider(resource=Resource.create({"service.name": "chatbot",
                                                        "deployment.environment.name": "prod"}))
    monkeypatch.setattr(budget.trace, "get_tracer_provider", lambda: provider)
    query = BudgetGuard("http://127.0.0.1:1").query_for({"gen_ai.request.model": "gpt-4o", "user.id": "u-1",
                                                         "llmledger.tag.project": "apollo"})
    assert dict(query) == {"app": "chatbot", "environment": "prod", "model": "gpt-4o", "user": "u-1",
                           "tag.project": "apollo"}
