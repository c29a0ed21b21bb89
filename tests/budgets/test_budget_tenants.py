"""Budgets qualified by tenant: they count only that tenant's calls, in the store's spend, the
running totals, the throttle, the alerts and the burn-down; unqualified budgets count every
tenant's, as before migration 009."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from budget_harness import Clock, WebhookReceiver, at, llm_call, store_calls
from llmledger.processor.analytics import runner_for_client
from llmledger.processor.analytics.budgets import burn_down
from llmledger.processor.budgets import BudgetService, parse_budget_document
from llmledger.processor.budgets.store import BudgetStore
from llmledger.processor.corrections import Replacement, apply_replacements
from llmledger.processor.notify import Notifier
from llmledger.processor.storage.client import connect
from llmledger.processor.storage.migrate import available_migrations, migrate, split_statements

NOW = at("2026-05-20 12:30")


def _calls():
    """User u1 in two tenants and in none; gpt-4o calls of $1.50, one gpt-4o-mini call of $0.09
    (400,000 × 0.15 / 1M = 0.06 + 50,000 × 0.60 / 1M = 0.03)."""
    return [
        llm_call(at("2026-05-20 09:00"), user="u1", team="search", tenant="acme"),  # a whole hour: the rollup
        llm_call(at("2026-05-20 12:10"), user="u1", team="search", tenant="acme"),  # the partial hour: raw rows
        llm_call(at("2026-05-20 11:30"), user="u2", tenant="acme", model="gpt-4o-mini", cost=Decimal("0.09")),
        llm_call(at("2026-05-20 10:00"), user="u1", team="search", tenant="globex"),
        llm_call(at("2026-05-20 11:00"), user="u1", team="search"),  # no tenant
    ]


def _budgets(*entries: dict):
    return parse_budget_document({"budgets": list(entries)}).budgets


DAY = {"window": "daily", "limit": 100}
QUALIFIED = (
    {"scope": "user", "value": "u1", "tenant": "acme", **DAY},
    {"scope": "user", "value": "u1", "tenant": "globex", **DAY},
    {"scope": "user", "value": "u1", **DAY},
    {"scope": "team", "value": "search", "tenant": "acme", **DAY},
    {"scope": "all", "tenant": "acme", **DAY},
    {"scope": "tenant", "value": "acme", **DAY},
    {"id": "acme-u1-24h", "scope": "user", "value": "u1", "tenant": "acme", "window": "rolling", "duration": "24h",
     "limit": 100},
    {"id": "globex-search-24h", "scope": "team", "value": "search", "tenant": "globex", "window": "rolling",
     "duration": "24h", "limit": 100},
)


@pytest.mark.parametrize("counted_by", ["the store", "the running totals"])
def test_a_qualified_budget_counts_only_its_tenants_calls(clickhouse, counted_by):
    service = BudgetService(lambda: clickhouse, clock=Clock(NOW), settle_seconds=0 if counted_by == "the store" else 60)
    if counted_by == "the store":
        store_calls(clickhouse, _calls())
        service.set_budgets(_budgets(*QUALIFIED))
    else:
        service.set_budgets(_budgets(*QUALIFIED))
        service.observe(_calls())  # nothing stored: memory alone
    assert {s.budget.id: s.spend for s in service.status()} == {
        "acme:user=u1.daily": Decimal("3.00"),  # 2 × 1.50
        "globex:user=u1.daily": Decimal("1.50"),
        "user=u1.daily": Decimal("6.00"),  # every tenant's u1, and the u1 without one: 4 × 1.50
        "acme:team=search.daily": Decimal("3.00"),
        "acme:all.daily": Decimal("3.09"),  # 3.00 + the gpt-4o-mini call of 0.09
        "tenant=acme.daily": Decimal("3.09"),  # the same calls
        "acme-u1-24h": Decimal("3.00"),
        "globex-search-24h": Decimal("1.50"),
    }


def test_a_qualified_budget_counts_a_cancelled_call_no_more(clickhouse):
    """A correction cancels a call's row (a copy with sign -1): the tenant's budgets read the
    current rows, from the rollup and the raw rows alike."""
    calls = _calls()
    store_calls(clickhouse, calls)
    whole_hour, partial_hour = calls[0], calls[1]  # acme's u1 at 09:00 (rollup) and 12:10 (raw rows)
    apply_replacements(clickhouse, [Replacement(c.trace_id, c.span_id, "f" * 32, "f" * 16)
                                    for c in (whole_hour, partial_hour)])
    service = BudgetService(lambda: clickhouse, clock=Clock(NOW), settle_seconds=0)
    service.set_budgets(_budgets(*QUALIFIED))
    spend = {s.budget.id: s.spend for s in service.status()}
    # acme keeps only its gpt-4o-mini call of 0.09; globex's 1.50 and the untenanted 1.50 stay.
    assert spend == {
        "acme:user=u1.daily": Decimal("0"), "globex:user=u1.daily": Decimal("1.50"),
        "user=u1.daily": Decimal("3.00"), "acme:team=search.daily": Decimal("0"),
        "acme:all.daily": Decimal("0.09"), "tenant=acme.daily": Decimal("0.09"),
        "acme-u1-24h": Decimal("0"), "globex-search-24h": Decimal("1.50"),
    }


def test_the_throttle_decides_by_the_callers_tenant(clickhouse):
    store_calls(clickhouse, _calls())
    service = BudgetService(lambda: clickhouse, clock=Clock(NOW), settle_seconds=0)
    service.set_budgets(_budgets({"scope": "user", "value": "u1", "tenant": "acme", "window": "daily", "limit": 2},
                                 {"scope": "user", "value": "u1", "tenant": "globex", "window": "daily", "limit": 10},
                                 {"scope": "user", "value": "u1", "window": "daily", "limit": 100}))
    acme = service.check(user="u1", tenant="acme")  # 3.00 of 2: spent
    assert (acme.action, acme.budget_id, acme.tenant, acme.spend) == ("deny", "acme:user=u1.daily", "acme",
                                                                      Decimal("3.00"))
    assert acme.to_dict()["tenant"] == "acme"
    globex = service.check(user="u1", tenant="globex")  # acme's spend is not globex's
    assert (globex.action, globex.budget_id, globex.remaining) == ("allow", "globex:user=u1.daily", Decimal("8.50"))
    untenanted = service.check(user="u1")  # a call without a tenant: only the budget on every tenant
    assert (untenanted.action, untenanted.budget_id) == ("allow", "user=u1.daily")

    # The budget on every tenant is the operator's cap: spent (6.00 of 5), it refuses every tenant.
    service.set_budgets(_budgets({"scope": "user", "value": "u1", "window": "daily", "limit": 5}))
    refused = service.check(user="u1", tenant="globex", shown=lambda b: b.tenant_of == "globex")
    assert (refused.action, refused.budget_id) == ("deny", "user=u1.daily")

    # Allowed, the answer names the budget with the least left among those shown.
    service.set_budgets(_budgets({"scope": "user", "value": "u1", "window": "daily", "limit": 9}))
    assert service.check(user="u1", tenant="globex").budget_id == "user=u1.daily"  # 3.00 left, globex 8.50
    shown = service.check(user="u1", tenant="globex", shown=lambda b: b.tenant_of == "globex")
    assert (shown.action, shown.budget_id) == ("allow", "globex:user=u1.daily")
    assert service.check(user="u1", tenant="initech", shown=lambda b: b.tenant_of == "initech").budget_id == ""


def test_a_tenants_budget_alerts_only_its_own_channels(clickhouse, webhook):
    other_hook = WebhookReceiver()
    try:
        clock = Clock(NOW)
        service = BudgetService(lambda: clickhouse, clock=clock, notifier=Notifier(backoff_seconds=0.01))
        service.set_budgets(_budgets(
            {"scope": "user", "value": "u1", "tenant": "acme", "window": "daily", "limit": 4, "thresholds": [0.5],
             "notification_channels": [{"type": "webhook", "url": f"{webhook.url}/acme"}]},
            {"scope": "user", "value": "u1", "tenant": "globex", "window": "daily", "limit": 4, "thresholds": [0.5],
             "notification_channels": [{"type": "webhook", "url": f"{other_hook.url}/globex"}]}))
        calls = _calls()
        store_calls(clickhouse, calls)
        service.observe(calls)
        service.evaluate()  # acme: 3.00 of 4 (75 %); globex: 1.50 of 4 (37.5 %)
        acme_alert, = webhook.documents("/acme")
        assert acme_alert["budget"]["tenant"] == "acme" and acme_alert["status"]["spend"] == "3"
        assert "user=u1 of tenant acme has spent $3.00" in acme_alert["summary"]
        assert other_hook.requests == []

        more = [llm_call(NOW - 60, user="u1", tenant="globex")]  # globex: 3.00 of 4
        store_calls(clickhouse, more)
        service.observe(more)
        service.evaluate()
        globex_alert, = other_hook.documents("/globex")
        assert globex_alert["budget"]["tenant"] == "globex" and globex_alert["status"]["spend"] == "3"
        assert len(webhook.requests) == 1  # acme's hook heard nothing of globex
    finally:
        other_hook.close()


def test_the_burn_down_counts_only_the_budgets_tenant(clickhouse):
    store_calls(clickhouse, _calls())
    service = BudgetService(lambda: clickhouse, clock=Clock(NOW), settle_seconds=0)
    service.set_budgets(_budgets({"scope": "user", "value": "u1", "tenant": "acme", **DAY},
                                 {"scope": "team", "value": "search", "tenant": "globex", **DAY}))
    points = {s.budget.id: burn_down(runner_for_client(clickhouse), s, NOW) for s in service.status()}
    hour = lambda h: datetime(2026, 5, 20, h, tzinfo=timezone.utc)  # noqa: E731
    # acme's u1: 1.50 in the hour to 10:00, 1.50 more in the hour to 13:00.
    assert [(p.at, p.spend) for p in points["acme:user=u1.daily"]] == [(hour(10), Decimal("1.50")),
                                                                      (hour(13), Decimal("3.00"))]
    assert [(p.at, p.spend) for p in points["globex:team=search.daily"]] == [(hour(11), Decimal("1.50"))]


def test_budgets_stored_before_migration_009_span_every_tenant(chdb_dir):
    client = connect(data_dir=chdb_dir, database=f"before009_{uuid.uuid4().hex[:12]}")
    try:
        client.command("CREATE TABLE schema_migrations (version UInt32, name String, applied_at DateTime "
                       "DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version")
        for version, name, sql in available_migrations():
            if version < 9:
                for statement in split_statements(sql):
                    client.command(statement)
                client.insert("schema_migrations", [[version, name]], column_names=["version", "name"])
        client.command("INSERT INTO budgets (id, scope, scope_value, window_kind, timezone, rolling_seconds, "
                       "limit_amount, thresholds, hard, fallback_model, channels, description, source, updated_at) "
                       "VALUES ('old-u1', 'user', 'u1', 'daily', 'UTC', 0, 10, [1], true, '', '[]', '', 'cli', now())")
        assert "009_budget_tenant.sql" in migrate(client)
        old, = BudgetStore(client).load()
        assert (old.id, old.scope, old.value, old.tenant) == ("old-u1", "user", "u1", "")
        assert client.query("SELECT id, tenant FROM budgets_current").result_rows == [("old-u1", "")]

        store_calls(client, _calls())
        service = BudgetService(lambda: client, clock=Clock(NOW), settle_seconds=0)
        service.reconcile()
        assert [(s.budget.id, s.spend) for s in service.status()] == [("old-u1", Decimal("6.00"))]
    finally:
        client.command(f"DROP DATABASE IF EXISTS {client.database}")
