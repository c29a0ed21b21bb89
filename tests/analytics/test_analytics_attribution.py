"""Attribution over a known synthetic month: every figure is checked against sums the test
makes itself from the generated calls."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from analytics_expected import at, grouped, json_runner, ranked, spend, spend_of, within
from analytics_month import MONTH_END, MONTH_START, PRICES

from llmledger.processor.analytics import cost_by, cost_trend, summary, top_spenders

# A range off whole hours: answered from the per-call rows instead of the hourly rollup.
ODD_START = datetime(2025, 3, 10, 8, 30, tzinfo=timezone.utc)
ODD_END = datetime(2025, 3, 17, 17, 45, 30, tzinfo=timezone.utc)

KEYS = {
    "app": lambda c: c.app,
    "environment": lambda c: c.environment,
    "provider": lambda c: c.provider,
    "model": lambda c: c.model,
    "team": lambda c: c.team,
    "feature": lambda c: c.feature,
    "tenant": lambda c: c.tenant,
    "user": lambda c: c.user_id,
    "tag:tier": lambda c: c.tags.get("tier", ""),
}


def _as_table(rows):
    return [(row.key, spend_of(row)) for row in rows]


def _expected_table(calls, key):
    groups = grouped(calls, key)
    return [(k, groups[k]) for k in ranked(groups)]


@pytest.mark.parametrize("dimension", list(KEYS))
def test_cost_by_every_dimension_over_the_month(month, month_calls, dimension):
    rows = cost_by(month, dimension, MONTH_START, MONTH_END)
    assert _as_table(rows) == _expected_table(month_calls, KEYS[dimension])
    assert all(row.dimension == dimension for row in rows)


@pytest.mark.parametrize("dimension", ["app", "model", "user", "tag:tier"])
def test_cost_by_a_range_that_does_not_start_on_the_hour(month, month_calls, dimension):
    rows = cost_by(month, dimension, ODD_START, ODD_END)
    assert _as_table(rows) == _expected_table(within(month_calls, ODD_START, ODD_END), KEYS[dimension])


@pytest.mark.parametrize("end", [MONTH_END, ODD_END], ids=["rollup", "calls"])
def test_a_group_of_unpriced_calls_has_no_cost_not_a_cost_of_0(month, month_calls, end):
    lab = next(row for row in cost_by(month, "app", MONTH_START, end) if row.key == "lab")
    lab_calls = [c for c in within(month_calls, MONTH_START, end) if c.app == "lab"]
    assert lab.cost is None and lab.requests == lab.unpriced_requests == len(lab_calls) > 0


@pytest.mark.parametrize("filters, keep", [
    ({"app": "support-bot", "environment": "production"},
     lambda c: c.app == "support-bot" and c.environment == "production"),
    ({"model": ["o4-mini", "claude-sonnet-4"]}, lambda c: c.model in ("o4-mini", "claude-sonnet-4")),
    ({"tag:tier": "gold", "tenant": "acme"}, lambda c: c.tags.get("tier") == "gold" and c.tenant == "acme"),
    ({"user": "user-7"}, lambda c: c.user_id == "user-7"),
])
def test_filters_narrow_the_calls(month, month_calls, filters, keep):
    kept = [c for c in month_calls if keep(c)]
    rows = cost_by(month, "feature", MONTH_START, MONTH_END, filters=filters)
    assert _as_table(rows) == _expected_table(kept, KEYS["feature"])


def test_top_spenders_are_the_most_expensive_first(month, month_calls):
    expected = _expected_table(month_calls, KEYS["user"])[:5]
    assert _as_table(top_spenders(month, "user", MONTH_START, MONTH_END, limit=5)) == expected

    in_search = [c for c in month_calls if c.app == "search"]
    expected = _expected_table(in_search, KEYS["model"])[:1]
    rows = top_spenders(month, "model", MONTH_START, MONTH_END, limit=1, filters={"app": "search"})
    assert _as_table(rows) == expected


@pytest.mark.parametrize("granularity, tz, bucket_of", [
    # New York moves its clocks on 9 March 2025: its days are 23, 24 or 25 hours long.
    ("day", "America/New_York", lambda t: t.astimezone(ZoneInfo("America/New_York")).date()),
    ("week", "Europe/Berlin", lambda t: (lambda d: d - timedelta(days=d.weekday()))(
        t.astimezone(ZoneInfo("Europe/Berlin")).date())),
    # The first UTC hours of March are still February in New York.
    ("month", "America/New_York", lambda t: t.astimezone(ZoneInfo("America/New_York")).date().replace(day=1)),
    ("day", "UTC", lambda t: t.date()),
    # India's days begin at 18:30 UTC, inside a rollup hour: answered from the calls.
    ("day", "Asia/Kolkata", lambda t: t.astimezone(ZoneInfo("Asia/Kolkata")).date()),
])
def test_trend_in_calendar_buckets_of_a_time_zone(month, month_calls, granularity, tz, bucket_of):
    points = cost_trend(month, granularity, MONTH_START, MONTH_END, tz=tz)
    expected = grouped(month_calls, lambda c: bucket_of(at(c)))
    assert [(p.bucket, spend_of(p)) for p in points] == [(b, expected[b]) for b in sorted(expected)]
    assert all(isinstance(p.bucket, date) and not isinstance(p.bucket, datetime) for p in points)


def test_hourly_trend_split_by_a_dimension(month, month_calls):
    start, end = datetime(2025, 3, 12, tzinfo=timezone.utc), datetime(2025, 3, 13, tzinfo=timezone.utc)
    points = cost_trend(month, "hour", start, end, dimension="model")
    expected = grouped(within(month_calls, start, end),
                       lambda c: (at(c).replace(minute=0, second=0, microsecond=0), c.model))
    order = sorted(expected, key=lambda k: (k[0], expected[k]["cost"] is None, -(expected[k]["cost"] or 0),
                                            -expected[k]["requests"], k[1]))
    assert [((p.bucket, p.key), spend_of(p)) for p in points] == [(k, expected[k]) for k in order]
    assert points[0].bucket == start and points[0].bucket.tzinfo is not None


def test_trend_by_a_tag_over_an_odd_range(month, month_calls):
    points = cost_trend(month, "day", ODD_START, ODD_END, dimension="tag:tier")
    expected = grouped(within(month_calls, ODD_START, ODD_END), lambda c: (at(c).date(), c.tags.get("tier", "")))
    assert {(p.bucket, p.key): spend_of(p) for p in points} == expected


def _cache_figures(calls):
    """Cache savings from the price list: cache-read tokens x (input price - cache-read price).
    A call whose every non-cache-write input token was a cache read shows no input rate of
    its own, so its saving is unknown and counted apart."""
    savings, unknown = Decimal(0), 0
    for call in calls:
        prices = PRICES.get(call.model)
        if call.cost is None or not call.cache_read_tokens or prices.cache_read is None:
            continue
        billed_as_input = call.input_tokens - call.cache_read_tokens - (
            call.cache_write_tokens if prices.cache_write is not None else 0)
        if billed_as_input > 0:
            savings += call.cache_read_tokens * (prices.input - prices.cache_read) / Decimal(1_000_000)
        else:
            unknown += 1
    return savings, unknown


@pytest.mark.parametrize("filters, keep", [
    (None, lambda c: True),
    ({"app": "support-bot"}, lambda c: c.app == "support-bot"),
])
def test_summary_of_the_month(month, month_calls, filters, keep):
    calls = [c for c in month_calls if keep(c)]
    result = summary(month, MONTH_START, MONTH_END, filters=filters)
    assert spend_of(result) == spend(calls)

    priced = [c for c in calls if c.cost is not None]
    priced_tokens = sum(c.input_tokens + c.output_tokens for c in priced)
    total = sum(c.cost for c in priced)
    assert (result.priced_requests, result.priced_tokens) == (len(priced), priced_tokens)
    assert result.average_cost_per_request == (total / len(priced)).quantize(Decimal("1e-12"))
    assert result.average_cost_per_1k_tokens == (total * 1000 / priced_tokens).quantize(Decimal("1e-12"))
    assert (result.cache_savings, result.cache_savings_unknown_requests) == _cache_figures(calls)
    assert result.cache_savings > 0


def test_summary_of_a_range_without_calls(month):
    result = summary(month, datetime(2024, 1, 1), datetime(2024, 2, 1))
    assert (result.cost, result.requests, result.unpriced_requests) == (0, 0, 0)
    assert result.average_cost_per_request is None and result.average_cost_per_1k_tokens is None


def test_views_over_the_rollups_add_up(month_client, month_calls):
    """Dashboards read v_cost_hourly and v_cost_daily_by_user directly."""
    rows = month_client.query(
        "SELECT app, sum(cost), sum(requests), sum(unpriced_requests), sum(total_tokens) "
        "FROM v_cost_hourly GROUP BY app ORDER BY app").result_rows
    expected = grouped(month_calls, lambda c: c.app)
    assert rows == [(app, expected[app]["cost"], expected[app]["requests"], expected[app]["unpriced_requests"],
                     expected[app]["total_tokens"]) for app in sorted(expected)]

    rows = month_client.query(
        "SELECT user_id, sum(cost), sum(requests) FROM v_cost_daily_by_user "
        "WHERE app = 'code-review' AND day = '2025-03-14' GROUP BY user_id ORDER BY user_id").result_rows
    expected = grouped([c for c in month_calls if c.app == "code-review" and at(c).date() == date(2025, 3, 14)],
                       lambda c: c.user_id)
    assert rows == [(user, expected[user]["cost"], expected[user]["requests"]) for user in sorted(expected)]


def test_a_runner_through_json_gives_the_same_results(month, month_client):
    """The CLI's runner may go through the service and get text for Decimals and times."""
    through_json = json_runner(month_client)
    for report in (
        lambda run: cost_by(run, "model", ODD_START, ODD_END, filters={"tag:tier": ["gold", "silver"]}),
        lambda run: top_spenders(run, "tenant", MONTH_START, MONTH_END, limit=2),
        lambda run: cost_trend(run, "hour", ODD_START, ODD_END, dimension="app", tz="Asia/Kolkata"),
        lambda run: cost_trend(run, "week", MONTH_START, MONTH_END),
        lambda run: summary(run, ODD_START, ODD_END),
    ):
        assert report(through_json) == report(month)


@pytest.mark.parametrize("call, message", [
    (lambda run: cost_by(run, "colour", MONTH_START, MONTH_END), "unknown dimension 'colour'"),
    (lambda run: cost_by(run, "tag:", MONTH_START, MONTH_END), "tag dimension without a tag name"),
    (lambda run: cost_by(run, "app", MONTH_END, MONTH_START), "empty time range"),
    (lambda run: cost_by(run, "app", MONTH_START, MONTH_END, filters={"app": 3}), "filter app"),
    (lambda run: cost_by(run, "app", MONTH_START, MONTH_END, filters={"app": []}), "filter app"),
    (lambda run: cost_by(run, "app", MONTH_START, MONTH_END, filters={"owner": "x"}), "unknown dimension 'owner'"),
    (lambda run: top_spenders(run, "app", MONTH_START, MONTH_END, limit=0), "limit must be a positive"),
    (lambda run: cost_trend(run, "fortnight", MONTH_START, MONTH_END), "unknown granularity 'fortnight'"),
    (lambda run: cost_trend(run, "day", MONTH_START, MONTH_END, tz="Mars/Olympus"), "unknown time zone"),
])
def test_bad_input_is_named_in_the_error(month, call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call(month)


def test_values_reach_sql_only_as_parameters(month):
    """A filter value or tag name that looks like SQL is just a value that matches nothing."""
    hostile = "x' OR 1=1 --"
    assert cost_by(month, "app", MONTH_START, MONTH_END, filters={"app": hostile}) == []
    rows = cost_by(month, "tag:" + hostile, MONTH_START, MONTH_END)
    assert [row.key for row in rows] == [""]
