"""Window spend: read from ClickHouse (rollup and raw rows), kept current by observed calls,
never counted twice; budgets stored in ClickHouse and synced from the file."""
from __future__ import annotations

from decimal import Decimal

import pytest

from budget_harness import Clock, at, llm_call, store_calls
from llmledger.processor.budgets import BudgetService, parse_budget_document


def _budgets(*entries: dict):
    return parse_budget_document({"budgets": list(entries)}).budgets


def _spend(service: BudgetService) -> dict[str, Decimal]:
    return {s.budget.id: s.spend for s in service.status()}


def test_window_spend_follows_the_budgets_time_zone(clickhouse):
    clock = Clock(at("2026-03-01 06:20"))  # 11:50 in Kolkata
    store_calls(clickhouse, [
        llm_call(at("2026-02-28 18:00")),  # 23:30 on 28 Feb in Kolkata: the day before
        llm_call(at("2026-02-28 18:45")),  # 00:15 on 1 Mar in Kolkata, in a partial hour
        llm_call(at("2026-02-28 21:10")),  # inside whole hours, read from the hourly rollup
        llm_call(at("2026-03-01 05:00")),
        llm_call(at("2026-03-01 06:05")),  # the partial hour before now
        llm_call(at("2026-03-01 05:30"), app="other-app"),
        llm_call(at("2026-03-01 05:40"), cost=None),  # unpriced: counted as a request, costs nothing
    ])
    service = BudgetService(lambda: clickhouse, clock=clock, settle_seconds=0)
    service.set_budgets(_budgets(
        {"id": "ist-day", "app_id": "chatbot", "window": "daily", "timezone": "Asia/Kolkata", "limit": 100},
        {"id": "ist-month", "app_id": "chatbot", "window": "monthly", "timezone": "Asia/Kolkata", "limit": 100},
        {"id": "utc-day", "app_id": "chatbot", "window": "daily", "limit": 100},
        {"id": "feb-utc", "app_id": "chatbot", "window": "monthly", "limit": 100}))
    # Kolkata's 1 March (and March) holds the calls at 18:45, 21:10, 05:00, 06:05: 4 × 1.50 = 6.00.
    # UTC's 1 March holds 05:00 and 06:05: 2 × 1.50 = 3.00; UTC's March the same.
    assert _spend(service) == {"ist-day": Decimal("6.00"), "ist-month": Decimal("6.00"),
                               "utc-day": Decimal("3.00"), "feb-utc": Decimal("3.00")}


def test_every_scope_counts_its_own_calls(clickhouse):
    clock = Clock(at("2026-05-20 12:00"))
    calls = [
        llm_call(at("2026-05-20 09:00"), app="chat", user="ann", team="search", tags={"project": "apollo"}),
        llm_call(at("2026-05-20 09:30"), app="chat", user="bob", team="search"),
        llm_call(at("2026-05-20 10:00"), app="mail", user="ann", team="growth", tags={"project": "apollo"}),
        # gpt-4o-mini at $0.15 in / $0.60 out per 1M: 400,000 × 0.15 / 1M = 0.06 + 50,000 × 0.60 / 1M = 0.03
        llm_call(at("2026-05-20 11:00"), app="mail", user="cy", model="gpt-4o-mini", cost=Decimal("0.09")),
    ]
    store_calls(clickhouse, calls)
    service = BudgetService(lambda: clickhouse, clock=clock, settle_seconds=0)
    day = {"window": "daily", "limit": 100}
    service.set_budgets(_budgets(
        {"id": "user-ann", "scope": "user", "value": "ann", **day},
        {"id": "team-search", "scope": "team", "value": "search", **day},
        {"id": "tag-apollo", "scope": "tag:project", "value": "apollo", **day},
        {"id": "model-mini", "scope": "model", "value": "gpt-4o-mini", **day},
        {"id": "provider-openai", "scope": "provider", "value": "openai", **day},
        {"id": "everything", "scope": "all", **day}))
    assert _spend(service) == {
        "user-ann": Decimal("3.00"),  # two gpt-4o calls: 2 × 1.50
        "team-search": Decimal("3.00"),  # 2 × 1.50
        "tag-apollo": Decimal("3.00"),  # 2 × 1.50
        "model-mini": Decimal("0.09"),
        "provider-openai": Decimal("4.59"),  # 3 × 1.50 + 0.09
        "everything": Decimal("4.59"),
    }


def test_observed_calls_count_at_once_and_never_twice(clickhouse):
    clock = Clock(at("2026-05-20 12:00") + 30)
    service = BudgetService(lambda: clickhouse, clock=clock, settle_seconds=60)
    service.set_budgets(_budgets({"id": "day", "app_id": "chatbot", "window": "daily", "limit": 100}))
    mine = [llm_call(clock.now - 10), llm_call(clock.now - 5)]  # 12:00:20 and 12:00:25
    store_calls(clickhouse, mine)  # the drain writes them...
    service.observe(mine)  # ...and the pipeline reports them when they are durable
    assert _spend(service) == {"day": Decimal("3.00")}  # 2 × 1.50, before any reconcile

    service.reconcile()  # they are newer than the watermark: still counted from memory only
    assert _spend(service) == {"day": Decimal("3.00")}

    another_replicas = [llm_call(clock.now - 2)]  # 12:00:28
    store_calls(clickhouse, another_replicas)  # in the store, never observed here
    clock.now += 120
    service.reconcile()  # all three are now older than the watermark: read from the store
    assert _spend(service) == {"day": Decimal("4.50")}  # 3 × 1.50
    service.observe([llm_call(clock.now - 1)])
    assert _spend(service) == {"day": Decimal("6.00")}  # 4 × 1.50


def test_a_restarted_service_reads_what_was_spent(clickhouse):
    clock = Clock(at("2026-05-20 12:00"))
    first = BudgetService(lambda: clickhouse, clock=clock)
    first.set_budgets(_budgets({"id": "day", "app_id": "chatbot", "window": "daily", "limit": 100}))
    calls = [llm_call(clock.now - 30 * 60), llm_call(clock.now - 20)]
    store_calls(clickhouse, calls)
    first.observe(calls)

    restarted = BudgetService(lambda: clickhouse, clock=clock)
    restarted.reconcile()
    assert _spend(restarted) == {"day": Decimal("3.00")}  # 2 × 1.50, both from the store


def test_rolling_spend_slides_out_minute_by_minute(clickhouse):
    start = at("2026-05-20 10:00")
    clock = Clock(start + 40 * 60)
    store_calls(clickhouse, [llm_call(start + 5), llm_call(start + 20), llm_call(start + 50),
                             llm_call(start + 30 * 60)])
    service = BudgetService(lambda: clickhouse, clock=clock, settle_seconds=0)
    service.set_budgets(_budgets({"id": "hour", "app_id": "chatbot", "window": "rolling", "duration": "1h",
                                  "limit": 5}))
    assert _spend(service) == {"hour": Decimal("6.00")}  # 4 × 1.50
    clock.now = start + 61 * 60  # the minute from 10:00 has left the hour; 10:30 has not
    assert _spend(service) == {"hour": Decimal("1.50")}


def test_budgets_live_in_the_store_and_the_file_is_synced(clickhouse, tmp_path):
    clock = Clock(at("2026-05-20 12:00"))
    path = tmp_path / "budgets.yaml"
    path.write_text("budgets:\n  - app_id: chat\n    daily_limit: 10\n    monthly_limit: 100\n")
    service = BudgetService(lambda: clickhouse, clock=clock)
    service.sync_file(path)
    service.set_budgets(_budgets({"id": "from-cli", "app_id": "mail", "window": "weekly", "limit": 7}))
    assert sorted(b.id for b in service.budgets()) == ["chat.daily", "chat.monthly", "from-cli"]

    path.write_text("budgets:\n  - app_id: chat\n    daily_limit: 12\n")  # monthly gone, daily changed
    other_replica = BudgetService(lambda: clickhouse, clock=clock)
    other_replica.sync_file(path)
    service.reconcile()  # the first one sees the change at its next reconcile
    budgets = {b.id: b for b in service.budgets()}
    assert sorted(budgets) == ["chat.daily", "from-cli"]  # a budget set from the CLI stays
    assert budgets["chat.daily"].limit == Decimal("12")

    assert service.delete_budgets(["from-cli", "no-such-budget"]) == ["from-cli"]
    other_replica.reconcile()
    assert [b.id for b in other_replica.budgets()] == ["chat.daily"]


@pytest.mark.parametrize("budget", [
    {"app_id": "chatbot", "window": "daily"},  # whole hours from the rollup, the rest from the calls
    {"scope": "user", "value": "u-1", "window": "daily"},  # no rollup: the calls
    {"app_id": "chatbot", "window": "rolling", "duration": "1h"},  # by minute, from the calls
])
def test_the_latest_call_counts_when_it_is_the_first_of_its_part(clickhouse, budget):
    """A call in the last second before the read's end that is the first row of its part (each
    insert makes one): ClickHouse 26.9 loses such rows when a DateTime64 column is compared
    with a DateTime bound, so the bounds are compared as DateTime64."""
    clock = Clock(at("2026-05-20 00:30") + 0.5)  # the store is read up to 00:30:01
    store_calls(clickhouse, [llm_call(at("2026-05-20 00:10"))])
    store_calls(clickhouse, [llm_call(at("2026-05-20 00:30") + 0.270556)])
    service = BudgetService(lambda: clickhouse, clock=clock, settle_seconds=0)
    service.set_budgets(_budgets({"id": "b", "limit": 100, **budget}))
    assert _spend(service) == {"b": Decimal("3.00")}  # 2 x 1.50
