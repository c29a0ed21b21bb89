"""Budgets per tenant in the running service with keys on: two tenants' keys, the same user id
in both, a budget on that user in each tenant, one on the second tenant's app, and one on
every tenant. Each tenant's spend counts only in its own budgets whatever user, app or
tenant its spans claim, its alerts go only to its own channel, the throttle refuses the
tenant whose budget is spent, and no answer shows a tenant another tenant's figures.

The rule for a key bound only to an app: its calls carry no tenant (a claimed one is
dropped), so they count in the budgets that span tenants and in no tenant's own."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from llm_traffic import tracer_provider
from llmledger.instrumentation.attribution import attribute
from llmledger.instrumentation.budget import BudgetExceededError, BudgetGuard
from service_harness import start_service

# 5.5M input and 1,000 output tokens of gpt-4o-mini at 0.15 / 0.60 USD per 1M tokens:
# 5,500,000 × 0.15 / 1M = 0.825, plus 1,000 × 0.60 / 1M = 0.0006 → 0.8256 USD.
BIG_CALL = {
    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 5_500_000,
    "gen_ai.usage.output_tokens": 1000, "user.id": "u1",
}

# acme's u1 is spent after one call (0.8256 of 0.8); globex's u1 alerts at 30 % of 5 (two calls:
# 1.6512, 33 %); globex's own app would be spent by one call (0.8256 of 0.5) but sees none; the
# operator's cap on u1 in every tenant alerts at 80 % of 2 (acme's and the kiosk's calls: 1.6512,
# 82.56 %) and refuses at 2 (with globex's two: 3.3024).
BUDGETS = """\
budgets:
  - scope: user
    value: u1
    tenant: acme
    window: daily
    limit: 0.8
    thresholds: [0.5, 1]
    notification_channels: [{{type: webhook, url: "{hooks}/acme"}}]
  - scope: user
    value: u1
    tenant: globex
    window: daily
    limit: 5
    thresholds: [0.3, 1]
    notification_channels: [{{type: webhook, url: "{hooks}/globex"}}]
  - scope: app
    value: globex-shop
    tenant: globex
    window: daily
    limit: 0.5
    notification_channels: [{{type: webhook, url: "{hooks}/globex"}}]
  - scope: user
    value: u1
    window: daily
    limit: 2
    notification_channels: [{{type: webhook, url: "{hooks}/operator"}}]
"""
ACME_U1, GLOBEX_U1, EVERY_U1 = "acme:user=u1.daily", "globex:user=u1.daily", "user=u1.daily"
GLOBEX_SHOP = "globex:globex-shop.daily"


class _Hooks(BaseHTTPRequestHandler):
    received: dict[str, list[dict]] = {}

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.setdefault(self.path, []).append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _cli(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "llmledger.processor.cli", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _send(service, key: str, calls: int = 1, service_name: str = "shop", **attributes) -> None:
    """Calls sent as an instrumented app does: the OTel SDK's spans through its OTLP/HTTP exporter."""
    memory = InMemorySpanExporter()
    provider = tracer_provider(service_name)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for _ in range(calls):
        provider.get_tracer("test").start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT,
                                               attributes={**BIG_CALL, **attributes}).end()
    exporter = OTLPSpanExporter(endpoint=service.http_url + "/v1/traces", headers={"Authorization": f"Bearer {key}"})
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS
    exporter.shutdown()


def _get(service, key: str, path: str) -> tuple[int, dict, object]:
    """Status, JSON body and the headers (names in any case)."""
    request = urllib.request.Request(service.http_url + path, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def _check(service, key: str, query: str) -> tuple[int, dict]:
    status, body, _ = _get(service, key, f"/v1/budgets/check?{query}")
    return status, body


def _alerts(path: str, count: int, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(_Hooks.received.get(path, [])) < count:
        assert time.monotonic() < deadline, f"{path}: {_Hooks.received}"
        time.sleep(0.2)
    return _Hooks.received[path]


@pytest.fixture
def hooks():
    _Hooks.received = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def tenants(tmp_path, hooks):
    data_dir = tmp_path / "data"
    (tmp_path / "llmledger.yaml").write_text("auth:\n  enabled: true\nbudgets:\n  evaluate_interval_s: 1\n")
    (tmp_path / "budgets.yaml").write_text(BUDGETS.format(hooks=hooks))
    keys = {name: _cli("keys", "create", "--data-dir", str(data_dir), *flags).splitlines()[0]
            for name, flags in (("acme", ("--tenant", "acme")), ("globex", ("--tenant", "globex")),
                                ("kiosk", ("--app", "kiosk")), ("gateway", ("--name", "gateway")))}
    running = start_service(data_dir, "--config", str(tmp_path / "llmledger.yaml"),
                            "--budgets", str(tmp_path / "budgets.yaml"))
    yield running, keys
    running.stop()


def test_each_tenant_spends_alerts_and_is_throttled_inside_its_own_budgets(tenants):
    service, keys = tenants

    # acme's u1 spends, claiming globex's tenant and app: the key's tenant wins, the app stays.
    _send(service, keys["acme"], service_name="globex-shop", **{"llmledger.tenant": "globex"})
    assert service.wait_for("SELECT count() FROM llm_spans WHERE tenant = 'acme'", 1) == 1
    status, acme = _check(service, keys["acme"], "user=u1")
    assert (status, acme["budget_id"], acme["tenant"], acme["spend"]) == (429, ACME_U1, "acme", "0.8256")
    assert _check(service, keys["acme"], "user=u1&tenant=globex")[1]["budget_id"] == ACME_U1  # asked for globex
    status, globex = _check(service, keys["globex"], "user=u1")
    # globex's u1 spent nothing; the tightest budget shown is globex's own, never the one on every tenant.
    assert (status, globex["budget_id"], globex["spend"]) == (200, GLOBEX_U1, "0")
    assert "acme" not in json.dumps(globex) and "0.8256" not in json.dumps(globex)
    # globex's app budget was not spent by acme's call under globex's service.name.
    status, shop = _check(service, keys["globex"], "app=globex-shop&user=u1")
    assert (status, shop["budget_id"], shop["spend"]) == (200, GLOBEX_SHOP, "0")

    # The instrumentation's guard sends the tenant of the attribution context; a bound key's is its own.
    gateway = BudgetGuard(service.http_url, api_key=keys["gateway"], cache_seconds=0, fail_open=False, timeout=10)
    with attribute(tenant="acme", user="u1"), pytest.raises(BudgetExceededError) as refused:
        gateway.check({}, resource={})
    assert refused.value.budget_id == ACME_U1
    with attribute(tenant="globex", user="u1"):
        assert gateway.check({}, resource={}) is None
    as_globex = BudgetGuard(service.http_url, api_key=keys["globex"], cache_seconds=0, fail_open=False, timeout=10)
    with attribute(tenant="acme", user="u1"):
        assert as_globex.check({}, resource={}) is None

    # acme's budget alerted acme's channel (0.5 and 1 at once); nobody else's heard of it.
    acme_alert, = _alerts("/acme", 1)
    assert acme_alert["budget"]["id"] == ACME_U1 and acme_alert["status"]["spend"] == "0.8256"
    assert acme_alert["thresholds_crossed"] == ["1", "0.5"]

    # A key bound only to an app claims no tenant: its call claiming globex has none, counts in
    # the budget on u1 in every tenant (1.6512 of 2: its 80 % alert) and in none of globex's.
    _send(service, keys["kiosk"], **{"llmledger.tenant": "globex"})
    assert service.wait_for("SELECT count() FROM llm_spans", 2) == 2
    assert service.query("SELECT app, tenant, user_id FROM llm_spans ORDER BY app") == [
        {"app": "globex-shop", "tenant": "acme", "user_id": "u1"}, {"app": "kiosk", "tenant": "", "user_id": "u1"}]
    # Asked for globex's u1, it is answered for its own calls, which no budget of its own counts.
    assert _check(service, keys["kiosk"], "user=u1&tenant=globex") == (200, {"decision": "allow", "allowed": True})
    operator_alert, = _alerts("/operator", 1)
    assert operator_alert["budget"]["id"] == EVERY_U1 and operator_alert["status"]["spend"] == "1.6512"
    assert operator_alert["thresholds_crossed"] == ["0.8"]
    assert _check(service, keys["globex"], "user=u1")[1]["spend"] == "0"
    assert "/globex" not in _Hooks.received

    # globex's u1 spends twice: 1.6512 of its 5, and u1 in every tenant is at 3.3024 of 2.
    _send(service, keys["globex"], calls=2)
    assert service.wait_for("SELECT count() FROM llm_spans", 4) == 4
    status, body, headers = _get(service, keys["globex"], "/v1/budgets/check?user=u1")
    # Refused by the operator's cap, which counts acme's and the kiosk's spend too: the answer, not its figures.
    assert status == 429 and set(body) == {"decision", "allowed", "retry_after"}
    assert int(headers.get("Retry-After")) == body["retry_after"] > 0
    assert _check(service, keys["globex"], "user=u2") == (200, {"decision": "allow", "allowed": True})  # no budget
    assert _check(service, keys["acme"], "user=u1")[0] == 429

    globex_alert, = _alerts("/globex", 1)
    assert globex_alert["budget"]["id"] == GLOBEX_U1 and globex_alert["status"]["spend"] == "1.6512"
    assert globex_alert["thresholds_crossed"] == ["0.3"]
    _, operator_alert = _alerts("/operator", 2)
    assert operator_alert["budget"]["id"] == EVERY_U1 and operator_alert["status"]["spend"] == "3.3024"
    assert operator_alert["thresholds_crossed"] == ["1"]
    time.sleep(3)  # more evaluations: nothing new for acme, whose window already alerted its thresholds
    assert [a["budget"]["id"] for a in _Hooks.received["/acme"]] == [ACME_U1]
    assert [a["budget"]["id"] for a in _Hooks.received["/globex"]] == [GLOBEX_U1]  # never globex's app

    # A bound key reads no budget list and runs no evaluation: that is the operator's.
    for key in (keys["acme"], keys["globex"], keys["kiosk"]):
        assert _get(service, key, "/v1/budgets")[0] == 401

    # The store agrees with the running totals, tenant by tenant (read by the CLI once stopped).
    service.stop()
    status = json.loads(_cli("budgets", "status", "--format", "json", "--data-dir", str(service.data_dir)))
    assert {s["id"]: (s["tenant"], s["spend"]) for s in status["budgets"]} == {
        ACME_U1: ("acme", "0.8256"), GLOBEX_U1: ("globex", "1.6512"), GLOBEX_SHOP: ("globex", "0"),
        EVERY_U1: ("", "3.3024")}
