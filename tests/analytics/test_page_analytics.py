"""The read API the pages and reports use, checked against the test's own sums over the
synthetic month (and, for prices, against published prices worked out by hand)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from analytics_expected import at, grouped, ranked, spend, spend_of, within
from analytics_month import BUSY_DAY, MONTH_END, MONTH_START, WINDOW_START, injected_anomalies, load

from llmledger.processor.analytics import (
    OTHER, AnomalySettings, SpikeSettings, budget_details, cost_matrix, estimate_cost, find_anomalies, most_expensive_calls, period_spend,
    price_history, price_in_force, runner_for_client, spike_chart, stacked_trend, summary, top_spenders_of,
    top_with_share,
    total_spend, trace_tree, unpriced_models)
from llmledger.processor.budgets import Budget, Window
from llmledger.processor.budgets.status import budget_status
from llmledger.processor.budgets.store import BudgetStore
from llmledger.processor.exporters.clickhouse import ClickHouseWriter
from llmledger.processor.notify import DeliveryAttempt
from llmledger.processor.pricing import PriceBook, Pricer
from llmledger.processor.storage.client import connect
from llmledger.processor.storage.migrate import available_migrations, migrate, split_statements

DAY = timedelta(days=1)


def test_total_spend_is_the_sum_of_the_calls(month, month_calls):
    start, end = datetime(2025, 3, 3, 7, tzinfo=timezone.utc), datetime(2025, 3, 18, 19, tzinfo=timezone.utc)
    assert spend_of(total_spend(month, start, end)) == spend(within(month_calls, start, end))
    only = [c for c in within(month_calls, start, end) if c.tenant == "acme"]
    assert spend_of(total_spend(month, start, end, {"tenant": "acme"})) == spend(only)


def test_period_spend_compares_with_the_same_part_of_the_period_before(month, month_calls):
    now = datetime(2025, 3, 20, 10, 30, tzinfo=timezone.utc)  # a Thursday
    today, week, this_month = period_spend(month, now)
    eleven = datetime(2025, 3, 20, 11, tzinfo=timezone.utc)  # the end of the current hour
    assert (today.start, today.end) == (datetime(2025, 3, 20, tzinfo=timezone.utc), eleven)
    assert (today.previous_start, today.previous_end) == (today.start - DAY, eleven - DAY)
    assert (week.start, week.previous_start) == (datetime(2025, 3, 17, tzinfo=timezone.utc),
                                                datetime(2025, 3, 10, tzinfo=timezone.utc))
    # March from the 1st to the 20th 11:00 against February 1st to the 20th 11:00 (no calls then).
    assert this_month.previous_start == datetime(2025, 2, 1, tzinfo=timezone.utc)
    for period in (today, week, this_month):
        current = spend(within(month_calls, period.start, period.end))
        previous = spend(within(month_calls, period.previous_start, period.previous_end))
        assert (period.cost, period.requests) == (current["cost"], current["requests"])
        assert period.previous_cost == previous["cost"]
        if previous["cost"]:
            assert period.change == (current["cost"] - previous["cost"]) / previous["cost"]
    assert this_month.change is None and this_month.previous_cost == 0  # nothing to compare: "new"


@pytest.mark.parametrize("start, end", [(MONTH_START, MONTH_END),  # whole days: the daily rollup
                                        (datetime(2025, 3, 3, 7, tzinfo=timezone.utc),  # and hours around them
                                         datetime(2025, 3, 18, 19, tzinfo=timezone.utc))])
def test_top_spenders_of_several_dimensions_at_once(month, month_calls, start, end):
    found = top_spenders_of(month, ["model", "app", "team", "feature"], start, end, limit=3, filters={"tenant": "acme"})
    calls = [c for c in within(month_calls, start, end) if c.tenant == "acme"]
    for dimension in ("model", "app", "team", "feature"):
        groups = grouped(calls, lambda c: getattr(c, dimension))
        assert [(row.key, spend_of(row)) for row in found[dimension]] == [
            (key, groups[key]) for key in ranked(groups)[:3]]


def test_top_with_share_adds_up_to_the_total(month, month_calls):
    top = top_with_share(month, "model", MONTH_START, MONTH_END, limit=3)
    groups = grouped(month_calls, lambda c: c.model)
    assert [row.key for row in top.rows] == ranked(groups)[:3]
    total = sum((g["cost"] for g in groups.values() if g["cost"] is not None), Decimal(0))
    assert top.total.cost == total
    for row in top.rows:
        assert row.share == groups[row.key]["cost"] / total
    rest = [k for k in groups if k not in {row.key for row in top.rows}]
    # An unpriced model among the rest adds nothing to their cost.
    assert top.others.cost == sum((groups[k]["cost"] for k in rest if groups[k]["cost"] is not None), Decimal(0))
    assert top.others.requests == sum(groups[k]["requests"] for k in rest)


def test_top_users_over_whole_days_read_the_daily_user_rollup(month, month_calls):
    top = top_with_share(month, "user", WINDOW_START, MONTH_END, limit=5, filters={"app": "support-bot"})
    calls = [c for c in within(month_calls, WINDOW_START, MONTH_END) if c.app == "support-bot"]
    groups = grouped(calls, lambda c: c.user_id)
    assert [(row.key, spend_of(row)) for row in top.rows] == [(k, groups[k]) for k in ranked(groups)[:5]]


def test_cost_matrix_of_model_by_app(month, month_calls):
    matrix = cost_matrix(month, "model", "app", MONTH_START, MONTH_END, filters={"environment": "production"})
    calls = [c for c in month_calls if c.environment == "production"]
    cells = grouped(calls, lambda c: (c.model, c.app))
    assert {(c.row, c.column): spend_of(c) for c in matrix.cells} == cells
    models = grouped(calls, lambda c: c.model)
    assert [r.key for r in matrix.rows] == ranked(models)
    assert [spend_of(r) for r in matrix.rows] == [models[k] for k in ranked(models)]
    assert [c.key for c in matrix.columns] == ranked(grouped(calls, lambda c: c.app))
    with pytest.raises(ValueError, match="by itself"):
        cost_matrix(month, "app", "app", MONTH_START, MONTH_END)


def test_cost_matrix_by_a_tag(month, month_calls):
    matrix = cost_matrix(month, "tag:tier", "team", MONTH_START, MONTH_END)
    assert {(c.row, c.column): spend_of(c) for c in matrix.cells} == grouped(
        month_calls, lambda c: (c.tags.get("tier", ""), c.team))


def test_stacked_trend_series_stack_to_the_totals(month, month_calls):
    start, end = datetime(2025, 3, 10, tzinfo=timezone.utc), datetime(2025, 3, 17, tzinfo=timezone.utc)
    trend = stacked_trend(month, "day", start, end, dimension="model", top=3)
    assert len(trend.buckets) == 7 and trend.buckets[0].isoformat() == "2025-03-10"
    assert [s.key for s in trend.series][-1] == OTHER and len(trend.series) == 4
    calls = within(month_calls, start, end)
    by_day = grouped(calls, lambda c: at(c).date())
    assert trend.totals == tuple(by_day[b]["cost"] for b in trend.buckets)
    for i in range(7):
        assert sum(s.costs[i] for s in trend.series) == trend.totals[i]
    models = grouped(calls, lambda c: c.model)
    assert [s.key for s in trend.series[:3]] == sorted(models, key=lambda k: (-(models[k]["cost"] or 0), k))[:3]


def test_stacked_trend_fills_hours_without_calls_with_zero(month):
    start = datetime(2025, 4, 1, tzinfo=timezone.utc)  # after the month: nothing there
    trend = stacked_trend(month, "hour", start, start + timedelta(hours=6), dimension="app")
    assert len(trend.buckets) == 6 and trend.series == () and trend.totals == (Decimal(0),) * 6


def test_unpriced_models(month, month_calls):
    found = unpriced_models(month, MONTH_START, MONTH_END)
    unpriced = [c for c in month_calls if c.unpriced]
    assert [(m.provider, m.model, m.unpriced_requests) for m in found] == [("openai", "acme-llama-ft", len(unpriced))]
    last = max(at(c) for c in unpriced).replace(minute=0, second=0, microsecond=0)
    assert found[0].last_hour == last


def test_most_expensive_calls(month, month_calls):
    start, end = datetime(2025, 3, 5, tzinfo=timezone.utc), datetime(2025, 3, 6, tzinfo=timezone.utc)
    found = most_expensive_calls(month, start, end, limit=5, filters={"team": "platform"})
    calls = [c for c in within(month_calls, start, end) if c.team == "platform" and c.cost is not None]
    expected = sorted(calls, key=lambda c: -c.cost)[:5]
    assert [(c.span_id, c.cost) for c in found] == [(c.span_id, c.cost) for c in expected]
    assert found[0].cost_details == expected[0].cost_details
    with pytest.raises(ValueError, match="limit"):
        most_expensive_calls(month, start, end, limit=0)


def test_trace_tree_nests_spans_and_carries_each_llm_calls_cost(clickhouse):
    from analytics_month import make_call, stream_of

    # Not on a whole second: the trace's spans are the first rows of their part, and ClickHouse
    # 26.9 drops such rows when a DateTime64(9) column is compared with a DateTime.
    t = datetime(2025, 6, 2, 9, 0, 0, 270556, tzinfo=timezone.utc)
    trace = "ab" * 16
    ns = int(t.timestamp()) * 10**9 + 270_556_119
    columns = ("Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ServiceName", "Duration",
               "StatusCode")
    root, tool, llm_1, llm_2 = "1" * 16, "2" * 16, f"{1:016x}", f"{2:016x}"
    trace_rows = [[ns, trace, root, "", "POST /ask", "Server", "support-bot", 3_000_000_000, "Ok"],
                  [ns + 10, trace, llm_1, root, "chat gpt-4o-mini", "Client", "support-bot", 1_000_000_000, "Ok"],
                  [ns + 20, trace, tool, root, "search docs", "Internal", "support-bot", 500_000_000, "Ok"],
                  [ns + 30, trace, llm_2, tool, "chat gpt-4o-mini", "Client", "support-bot", 800_000_000, "Ok"]]
    answer = stream_of("support-bot", "gpt-4o-mini")
    # 1,000 input x 0.15/1M + 100 output x 0.60/1M = 0.00015 + 0.00006 = 0.00021 each
    calls = [make_call(1, answer, t, input_tokens=1000, output_tokens=100, trace_id=trace, tenant="acme"),
             make_call(2, answer, t + timedelta(seconds=1), input_tokens=1000, output_tokens=100, trace_id=trace,
                       tenant="acme")]
    from llmledger.processor.exporters.clickhouse import llm_span_row

    ClickHouseWriter(clickhouse, columns).write(trace_rows, [llm_span_row(c) for c in calls], token="tree")
    run = runner_for_client(clickhouse)
    tree = trace_tree(run, trace.upper())
    assert [(s.span_id, s.depth) for s in tree.spans] == [(root, 0), (llm_1, 1), (tool, 1), (llm_2, 2)]
    assert [s.span_id for s in tree.llm_spans] == [llm_1, llm_2]
    assert tree.cost == Decimal("0.00042") and tree.llm_calls == 2
    assert tree.llm_spans[0].call.cost_details == {"input": Decimal("0.00015"), "output": Decimal("0.00006")}
    assert tree.duration_ns == 3_000_000_000
    assert trace_tree(run, trace, filters={"tenant": "acme"}) is not None
    assert trace_tree(run, trace, filters={"tenant": "globex"}) is None  # another tenant's trace
    assert trace_tree(run, "cd" * 16) is None


def test_spike_chart_shows_the_spike_against_its_baseline(anomalous_client):
    run = runner_for_client(anomalous_client)
    # The synthetic month spends cents a day: spikes of it need lower floors than the defaults.
    daily = SpikeSettings(baseline_buckets=28, min_spend=Decimal("0.05"), min_requests=20, min_active_buckets=7)
    spikes = find_anomalies(run, WINDOW_START, MONTH_END, settings=AnomalySettings(daily=daily), kinds=["daily_spike"])
    busy = next(a for a in spikes if a.at == BUSY_DAY)
    chart = spike_chart(run, busy)
    assert chart.granularity == "day" and chart.buckets[28] == BUSY_DAY
    assert chart.costs[28] == busy.observed and chart.threshold == busy.threshold
    assert max(chart.costs[:28]) < busy.threshold  # the days before stayed under the fence


def test_budget_details_burn_down_alerts_and_throttle(month_client, month_calls):
    run = runner_for_client(month_client)
    now = datetime(2025, 3, 12, 15, 30, tzinfo=timezone.utc).timestamp()
    budget = Budget(id=f"support-{uuid.uuid4().hex[:6]}", scope="app", value="support-bot", window=Window("monthly"),
                    limit=Decimal("1"), thresholds=(Decimal("0.5"), Decimal("1")), hard=True)
    window_start = int(MONTH_START.timestamp())
    spent = spend([c for c in within(month_calls, MONTH_START, datetime(2025, 3, 12, 16, tzinfo=timezone.utc))
                   if c.app == "support-bot"])["cost"]
    status = budget_status(budget, window_start, int(MONTH_END.timestamp()), spent, now)
    store = BudgetStore(month_client)
    key = f"{budget.id}|2025-03-01T00:00:00Z|0.5"
    store.claim_alert(dedup_key=key, kind="budget_threshold", budget_id=budget.id, window_start=window_start,
                      threshold=Decimal("0.5"), spend=spent, limit=budget.limit, title="half", claimant="me", now=now)
    for channel, ok, final in (("webhook", True, True), ("slack", False, False), ("email", False, True)):
        store.record_delivery(DeliveryAttempt(alert_key=key, channel=channel, target=channel, attempt=1, ok=ok,
                                              final=final, status="", error="" if ok else "down", attempted_at=now),
                              "me")
    detail, = budget_details(run, [status], now)
    assert detail.burn_down[-1].spend == spent  # per day: the 12th counted up to 16:00
    assert detail.burn_down[0].at == datetime(2025, 3, 2, tzinfo=timezone.utc)
    assert len(detail.burn_down) == 12
    assert detail.thresholds_crossed == tuple(t for t in budget.thresholds if spent >= t)
    alert, = detail.alerts
    assert (alert.key, alert.sent, alert.pending, alert.failed) == (key, 1, 1, 1)
    assert detail.throttle == ("deny" if spent >= budget.limit else "allow")


def test_rollups_of_migrations_025_and_026_count_calls_stored_before_them(chdb_dir, month_calls):
    client = connect(data_dir=chdb_dir, database=f"backfill_{uuid.uuid4().hex[:12]}")
    try:
        client.command("CREATE TABLE schema_migrations (version UInt32, name String, applied_at DateTime "
                       "DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version")
        for version, name, sql in available_migrations():
            if version < 25:
                for statement in split_statements(sql):
                    client.command(statement)
                client.insert("schema_migrations", [[version, name]], column_names=["version", "name"])
        calls = month_calls[:3000]
        load(client, calls)
        assert "025_cache_savings_hourly.sql" in migrate(client)
        run = runner_for_client(client)
        start, end = MONTH_START, MONTH_END
        by_rollup = summary(run, start, end)  # whole hours: the rollups answer
        by_calls = summary(run, start + timedelta(microseconds=1), end)  # not whole hours: the calls do
        assert by_rollup == type(by_rollup)(**{**by_calls.__dict__, "start": start})
        users = top_with_share(run, "user", start, end, limit=3)
        groups = grouped(calls, lambda c: c.user_id)
        assert [(r.key, spend_of(r)) for r in users.rows] == [(k, groups[k]) for k in ranked(groups)[:3]]
    finally:
        client.command(f"DROP DATABASE IF EXISTS {client.database}")


# gpt-4o-mini at 0.15 in / 0.075 cached / 0.60 out per 1M tokens:
# 10,000 input of which 4,000 cached, 1,000 output
#   = 6,000 x 0.15/1M + 4,000 x 0.075/1M + 1,000 x 0.60/1M = 0.0009 + 0.0003 + 0.0006 = 0.0018
def test_estimate_cost_as_prices_test_does():
    estimate = estimate_cost(Pricer(), "gpt-4o-mini", provider="openai", input_tokens=10_000,
                             cache_read_tokens=4_000, output_tokens=1_000)
    assert estimate.cost == Decimal("0.0018")
    assert estimate.components == {"input": Decimal("0.0009"), "cache_read": Decimal("0.0003"),
                                   "output": Decimal("0.0006")}
    unknown = estimate_cost(Pricer(warn_unpriced=False), "acme-llama-ft", input_tokens=10)
    assert unknown.cost is None and "no price" in unknown.reason
    with pytest.raises(ValueError, match="input_tokens"):
        estimate_cost(Pricer(), "gpt-4o-mini", input_tokens=-1)


def test_price_history_follows_the_price_books_effective_dates():
    book = PriceBook.from_text("""
models:
  - match: acme-llama-ft
    effective_from: 2025-01-01
    prices: {input: 1.00, output: 2.00}
  - match: acme-llama-ft
    effective_from: 2025-03-01
    prices: {input: 0.50, output: 1.00}
""")
    pricer = Pricer(book)
    history = price_history(pricer, "acme-llama-ft", until=datetime(2025, 4, 1, tzinfo=timezone.utc))
    assert [(p.card.input.base if p.card else None, p.valid_from) for p in history] == [
        (Decimal("0.50"), datetime(2025, 3, 1, tzinfo=timezone.utc)),
        (Decimal("1.00"), datetime(2025, 1, 1, tzinfo=timezone.utc)),
        (None, None),  # before the first entry: not in the catalog either
    ]
    now = price_in_force(pricer, "acme-llama-ft", at=datetime(2025, 2, 1, tzinfo=timezone.utc))
    assert now.card.output.base == Decimal("2.00") and now.valid_until == datetime(2025, 3, 1, tzinfo=timezone.utc)
