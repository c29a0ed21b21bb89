"""With auth on, a key sees and spends only inside its binding, and only a key trusted to
report costs may replace the price with its spans' own figure."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from service_harness import start_service
from llm_traffic import encoded_request

# 5.5M input and 1,000 output tokens of gpt-4o-mini at 0.15 / 0.60 USD per 1M tokens:
# 5,500,000 × 0.15 / 1M = 0.825, plus 1,000 × 0.60 / 1M = 0.0006 → 0.8256 USD.
BIG_CALL = {
    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 5_500_000,
    "gen_ai.usage.output_tokens": 1000,
}
BIG_CALL_COST = "0.8256"

BUDGETS = """\
budgets:
  - {id: tenant-a-daily, scope: tenant, value: tenant-a, window: daily, limit: 100}
  - {id: tenant-b-daily, scope: tenant, value: tenant-b, window: daily, limit: 0.5}
"""


def _cli(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "llmledger.processor.cli", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _create_key(data_dir, *flags: str) -> str:
    return _cli("keys", "create", "--data-dir", str(data_dir), *flags).splitlines()[0]


def _send(service, key: str, attributes: dict, service_name: str = "app-of-a") -> None:
    body = encoded_request([("chat gpt-4o-mini", attributes)], service_name=service_name)
    request = urllib.request.Request(service.http_url + "/v1/traces", body, method="POST", headers={
        "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def _check(service, key: str, query: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{service.http_url}/v1/budgets/check?{query}",
                                     headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def tenants(tmp_path):
    data_dir = tmp_path / "data"
    (tmp_path / "llmledger.yaml").write_text("auth:\n  enabled: true\n")
    (tmp_path / "budgets.yaml").write_text(BUDGETS)
    keys = {
        "a": _create_key(data_dir, "--tenant", "tenant-a"),
        "b": _create_key(data_dir, "--tenant", "tenant-b", "--app", "app-of-b"),
        "app_only": _create_key(data_dir, "--app", "app-x"),
        "gateway": _create_key(data_dir, "--name", "billing gateway", "--trust-reported-cost"),
    }
    running = start_service(data_dir, "--config", str(tmp_path / "llmledger.yaml"),
                            "--budgets", str(tmp_path / "budgets.yaml"))
    yield running, keys
    running.stop()


def test_a_tenant_key_is_answered_for_its_own_tenant_only(tenants):
    service, keys = tenants
    _send(service, keys["b"], BIG_CALL, service_name="app-of-b")  # B is now over its 0.5 USD
    assert service.wait_for("SELECT count() FROM llm_spans", 1) == 1

    status, own = _check(service, keys["b"], "tenant=tenant-b")
    assert status == 429 and own["budget_id"] == "tenant-b-daily" and own["spend"] == BIG_CALL_COST

    # A asks about B: answered for A (allowed, A's budget), nothing of B's shown.
    status, asked_for_b = _check(service, keys["a"], "tenant=tenant-b&app=app-of-b")
    assert status == 200 and asked_for_b["budget_id"] == "tenant-a-daily"
    assert "tenant-b" not in json.dumps(asked_for_b)

    # A key bound only to an app claims no tenant either: B's budget does not answer it.
    status, app_only = _check(service, keys["app_only"], "tenant=tenant-b")
    assert status == 200 and "tenant-b" not in json.dumps(app_only)


def test_spend_claimed_for_another_tenant_counts_in_the_senders(tenants):
    service, keys = tenants
    claiming_b = {**BIG_CALL, "llmledger.tenant": "tenant-b", "user.id": "user-of-b", "llmledger.app": "app-of-b"}
    _send(service, keys["a"], claiming_b, service_name="app-of-b")
    _send(service, keys["app_only"], claiming_b, service_name="app-of-b")
    assert service.wait_for("SELECT count() FROM llm_spans", 2) == 2
    rows = service.query("SELECT app, tenant, user_id FROM llm_spans ORDER BY tenant")
    assert rows == [{"app": "app-x", "tenant": "", "user_id": "user-of-b"},
                    {"app": "app-of-b", "tenant": "tenant-a", "user_id": "user-of-b"}]

    # B's budget saw none of it: B is still allowed; A's budget counted one call.
    status, b = _check(service, keys["b"], "")
    assert status == 200 and b["budget_id"] == "tenant-b-daily" and b["spend"] == "0"
    status, a = _check(service, keys["a"], "")
    assert a["budget_id"] == "tenant-a-daily" and a["spend"] == BIG_CALL_COST


def test_only_a_trusted_key_reports_its_own_cost(tenants):
    service, keys = tenants
    # A billed cost (llmledger.billed_cost) replaces the price; only a trusted key may send one.
    cheap_claim = {**BIG_CALL, "llmledger.billed_cost": "0.000000000001"}
    _send(service, keys["a"], cheap_claim)
    _send(service, keys["gateway"], {**cheap_claim, "llmledger.tenant": "tenant-g"})
    assert service.wait_for("SELECT count() FROM llm_spans", 2) == 2
    rows = service.query("SELECT tenant, toString(cost) AS cost, price_source FROM llm_spans ORDER BY tenant")
    assert rows == [{"tenant": "tenant-a", "cost": BIG_CALL_COST, "price_source": "catalog"},
                    {"tenant": "tenant-g", "cost": "0.000000000001", "price_source": "billed"}]

    listed = json.loads(_cli("keys", "list", "--data-dir", str(service.data_dir), "--format", "json"))
    assert {k["name"]: k["trust_reported_cost"] for k in listed}["billing gateway"] is True
    assert sum(k["trust_reported_cost"] for k in listed) == 1
