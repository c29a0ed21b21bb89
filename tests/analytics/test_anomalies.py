"""Anomaly detection over the synthetic month: nothing on the clean data, the injected
anomalies (and only they) on the same month with them added, with baselines checked
against the test's own arithmetic."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from analytics_expected import at, json_runner
from analytics_month import (
    BUSY_DAY, EXPENSIVE_CALL_AT, LOOP_HOUR, MONTH_END, NEW_APP_AT, NEW_MODEL_AT, WINDOW_START, injected_anomalies,
    make_call, stream_of)

from llmledger.processor.analytics import (
    AnomalySettings, NewArrivalSettings, RequestOutlierSettings, SpikeSettings, find_anomalies, runner_for_client)
from llmledger.processor.analytics.runner import fetch
from llmledger.processor.analytics.sql_files import load_sql
from llmledger.processor.analytics.time_range import range_parameters
from llmledger.processor.exporters.clickhouse import ClickHouseWriter, llm_span_row

# The synthetic apps spend cents an hour, so the spend floors are scaled down to let the
# statistics, not the floors, decide. The request floors stay as they are by default.
SETTINGS = AnomalySettings(
    requests=RequestOutlierSettings(min_cost=Decimal("0.001")),
    hourly=SpikeSettings(baseline_buckets=7 * 24, min_spend=Decimal("0.002"), min_requests=10,
                         min_active_buckets=24),
    daily=SpikeSettings(baseline_buckets=28, min_spend=Decimal("0.05"), min_requests=20, min_active_buckets=7),
)
BUCKET = {"hourly_spike": timedelta(hours=1), "daily_spike": timedelta(days=1)}


@pytest.fixture(scope="module")
def anomalous(anomalous_client):
    return runner_for_client(anomalous_client)


@pytest.fixture(scope="module")
def found(anomalous):
    return find_anomalies(anomalous, WINDOW_START, MONTH_END, settings=SETTINGS)


def test_the_clean_month_has_no_anomalies(month):
    # From the month's second week on: every app/model has a week of history by then.
    assert find_anomalies(month, datetime(2025, 3, 8, tzinfo=timezone.utc), MONTH_END, settings=SETTINGS) == []


def _explains(injected, anomaly) -> bool:
    if anomaly.kind not in injected.kinds or (anomaly.app, anomaly.model) != (injected.app, injected.model):
        return False
    length = BUCKET.get(anomaly.kind, timedelta(0))
    return anomaly.at < injected.end and anomaly.at + length > injected.start if length else \
        injected.start <= anomaly.at < injected.end


def test_every_anomaly_found_was_injected(found):
    _, injected = injected_anomalies()
    unexplained = [a for a in found if not any(_explains(i, a) for i in injected)]
    assert unexplained == []


def test_each_injected_anomaly_is_found(found):
    def one(kind, app, model, when):
        matches = [a for a in found if (a.kind, a.app, a.model, a.at) == (kind, app, model, when)]
        assert len(matches) == 1, f"{kind} {app} {model} {when} not found in {found}"
        return matches[0]

    expensive = one("request_outlier", "code-review", "claude-sonnet-4", EXPENSIVE_CALL_AT)
    loop = one("hourly_spike", "support-bot", "gpt-4o-mini", LOOP_HOUR)
    busy = one("daily_spike", "support-bot", "claude-3-5-haiku", BUSY_DAY)
    new_model = one("new_model", "", "gpt-4.1", NEW_MODEL_AT)
    new_app = one("new_app", "batch-eval", "", NEW_APP_AT)

    # 180,000 x 3.00/1M + 8,000 x 15/1M = 0.54 + 0.12
    assert expensive.observed == Decimal("0.66") and expensive.requests == 1
    # 400 calls of 3,000 x 0.15/1M + 500 x 0.60/1M = 0.00045 + 0.0003 = 0.00075: 0.30, on top of the usual
    assert loop.requests >= 400 and loop.observed >= Decimal("0.30")
    assert busy.score > 1 and loop.score > 1 and expensive.score > 10
    # 5 calls of 4,000 x 2.00/1M + 600 x 8.00/1M = 0.008 + 0.0048 = 0.0128: 0.064
    assert (new_model.observed, new_model.requests, new_model.baseline) == (Decimal("0.064"), 5, 0)
    # 3 calls of 1,000 x 0.15/1M + 100 x 0.60/1M = 0.00015 + 0.00006 = 0.00021: 0.00063
    assert (new_app.observed, new_app.requests) == (Decimal("0.00063"), 3)
    for anomaly in (expensive, loop, busy, new_model, new_app):
        assert anomaly.trace_ids and anomaly.description


def _injected_month(month_calls):
    extra, _ = injected_anomalies()
    return month_calls + extra


def _position(values, q):
    """ClickHouse's quantileExact: the value at position floor(q n) of the sorted values."""
    ordered = sorted(values)
    return ordered[int(q * len(ordered))]


def test_a_request_outlier_is_compared_with_the_trailing_p95(found, month_calls):
    calls = _injected_month(month_calls)
    outlier = next(a for a in found if a.kind == "request_outlier")
    day = EXPENSIVE_CALL_AT.replace(hour=0, minute=0, second=0, microsecond=0)
    trailing = [c.cost for c in calls if (c.app, c.model) == ("code-review", "claude-sonnet-4")
                and c.cost is not None and day - timedelta(days=7) <= at(c) < day]
    expensive = next(c for c in calls if at(c) == EXPENSIVE_CALL_AT)

    assert outlier.baseline == _position(trailing, 0.95)
    assert outlier.baseline_samples == len(trailing)
    assert outlier.threshold == 10 * outlier.baseline
    assert outlier.trace_ids == (expensive.trace_id,)


@pytest.mark.parametrize("kind, app, model, bucket_start, size, history", [
    ("hourly_spike", "support-bot", "gpt-4o-mini", LOOP_HOUR, timedelta(hours=1), 7 * 24),
    ("daily_spike", "support-bot", "claude-3-5-haiku", BUSY_DAY, timedelta(days=1), 28),
])
def test_a_spike_is_compared_with_the_tukey_fence_of_the_trailing_buckets(
        found, month_calls, kind, app, model, bucket_start, size, history):
    calls = [c for c in _injected_month(month_calls) if (c.app, c.model) == (app, model)]
    spend_by_bucket = defaultdict(Decimal)
    for call in calls:
        spend_by_bucket[bucket_start + (at(call) - bucket_start) // size * size] += call.cost or 0

    def spend_in(start):
        return spend_by_bucket.get(start, Decimal(0))

    trailing = [spend_in(bucket_start - i * size) for i in range(1, history + 1)]  # empty buckets are 0
    q1, median, q3 = (_position(trailing, q) for q in (0.25, 0.5, 0.75))
    in_bucket = [c for c in calls if bucket_start <= at(c) < bucket_start + size]
    spike = next(a for a in found if (a.kind, a.app, a.model, a.at) == (kind, app, model, bucket_start))

    assert spike.observed == spend_in(bucket_start) and spike.requests == len(in_bucket)
    assert spike.baseline == median
    assert spike.threshold == q3 + 3 * (q3 - q1)
    assert spike.baseline_samples == history
    # The examples are the bucket's most expensive calls.
    most_expensive = sorted(in_bucket, key=lambda c: c.cost, reverse=True)[0]
    assert spike.trace_ids[0] == most_expensive.trace_id


def test_default_floors_keep_small_spend_quiet(anomalous):
    """With the defaults ($1 an hour, $10 a day) the synthetic apps' spikes are too small to
    report; the expensive call (over $0.01) and the newcomers still are."""
    kinds = {a.kind for a in find_anomalies(anomalous, WINDOW_START, MONTH_END)}
    assert kinds == {"request_outlier", "new_app", "new_model"}


def test_only_the_kinds_asked_for(anomalous):
    found = find_anomalies(anomalous, WINDOW_START, MONTH_END, settings=SETTINGS, kinds=["new_model", "daily_spike"])
    assert {a.kind for a in found} == {"new_model", "daily_spike"}


def test_a_runner_through_json_finds_the_same(anomalous, anomalous_client, found):
    assert find_anomalies(json_runner(anomalous_client), WINDOW_START, MONTH_END, settings=SETTINGS) == found


@pytest.mark.parametrize("start, is_new", [
    (NEW_APP_AT, True),  # whole hour: the hourly rollup before it, the daily one for whole days
    (NEW_APP_AT + timedelta(hours=1), False),  # its first calls are an hour before, on the same day
    (NEW_APP_AT + timedelta(seconds=30), False),  # not a whole hour (read off the calls): one call before
])
def test_an_app_is_new_only_when_no_call_of_it_came_before_the_range(anomalous, start, is_new):
    found = find_anomalies(anomalous, start, MONTH_END, settings=SETTINGS, kinds={"new_app"})
    assert [(a.app, a.at) for a in found] == ([("batch-eval", NEW_APP_AT)] if is_new else [])


@pytest.mark.parametrize("extra_tokens, is_outlier", [(0, False), (1, True)])
def test_a_call_is_an_outlier_from_the_first_token_above_the_threshold(clickhouse, extra_tokens, is_outlier):
    """The cost histogram that picks the days to judge must not drop a call one token above
    10 x the p95: the judgement is the exact one."""
    stream = stream_of("support-bot", "gpt-4o-mini")  # $0.15 per million input tokens
    first = datetime(2025, 5, 1, tzinfo=timezone.utc)
    # 7 days x 20 calls of 1,000 .. 1,139 input tokens (no output): 140 costs, and the p95 is
    # the one at position floor(0.95 x 140) = 133 of them sorted: 1,133 tokens x $0.15/M.
    calls = [make_call(n, stream, first + timedelta(days=n // 20, minutes=n % 20), input_tokens=1000 + n,
                       output_tokens=0) for n in range(140)]
    p95 = Decimal(1133) * Decimal("0.00000015")
    judged = first + timedelta(days=7, hours=12)
    calls.append(make_call(999, stream, judged, input_tokens=11_330 + extra_tokens, output_tokens=0))
    assert calls[-1].cost == 10 * p95 + extra_tokens * Decimal("0.00000015")
    ClickHouseWriter(clickhouse, ()).write([], [llm_span_row(c) for c in calls], token="boundary")

    rules = AnomalySettings(requests=RequestOutlierSettings(min_samples=100, min_cost=Decimal("0.001")))
    found = find_anomalies(runner_for_client(clickhouse), first + timedelta(days=7), first + timedelta(days=8),
                           settings=rules, kinds={"request_outlier"})
    assert [(a.trace_ids, a.baseline, a.baseline_samples) for a in found] == (
        [((calls[-1].trace_id,), p95, 140)] if is_outlier else [])


@pytest.mark.parametrize("multiplier, at_least", [("1", 100), ("1.05", 10), ("1.1", 10), ("10", 1)])
def test_the_days_the_histogram_picks_lose_no_outlier(anomalous, multiplier, at_least):
    """Judging every app/model day of the month exactly finds the same outliers as judging only
    the days the cost histogram picks, also with low multipliers that put many calls near the
    threshold."""
    rules = RequestOutlierSettings(multiplier=Decimal(multiplier), min_cost=Decimal("0.0001"), min_samples=20)
    start = datetime(2025, 3, 8, tzinfo=timezone.utc)
    found = find_anomalies(anomalous, start, MONTH_END, settings=AnomalySettings(requests=rules, max_per_kind=10_000),
                           kinds={"request_outlier"})
    window = range_parameters(start, MONTH_END)
    everything = fetch(anomalous, "SELECT DISTINCT app, model, toDate(timestamp, 'UTC') AS day FROM v_llm_calls "
                                  "WHERE timestamp >= {start:DateTime64(6, 'UTC')}", window)
    every_day = fetch(anomalous, load_sql("request_outliers"), {
        **window, "multiplier": multiplier, "baseline_days": rules.baseline_days,
        "min_samples": rules.min_samples, "min_cost": str(rules.min_cost), "max_results": 10_000,
        "apps": [d["app"] for d in everything], "models": [d["model"] for d in everything],
        "days": [str(d["day"]) for d in everything]})
    assert len(every_day) >= at_least
    assert [(a.trace_ids[0], a.baseline) for a in found] == [(r["trace_id"], r["baseline"]) for r in every_day]


def test_each_spike_scale_keeps_its_own_highest_scores(anomalous):
    """Hourly and daily spikes are judged in one query, yet each kind gets max_per_kind of its
    own: the highest-scoring ones, as without the cap."""
    lax = SpikeSettings(baseline_buckets=24, min_spend=Decimal("0.0001"), min_requests=1,
                        min_active_buckets=1, fence_multiplier=Decimal("0.1"))
    lax_daily = SpikeSettings(baseline_buckets=7, min_spend=Decimal("0.0001"), min_requests=1,
                              min_active_buckets=1, fence_multiplier=Decimal("0.1"))
    kinds = {"hourly_spike", "daily_spike"}

    def spikes(cap):
        found = find_anomalies(anomalous, WINDOW_START, MONTH_END, kinds=kinds,
                               settings=AnomalySettings(hourly=lax, daily=lax_daily, max_per_kind=cap))
        return {kind: [(a.app, a.model, a.at, a.score) for a in found if a.kind == kind] for kind in kinds}

    everything, capped = spikes(10_000), spikes(3)
    assert min(len(everything["hourly_spike"]), len(everything["daily_spike"])) > 3
    assert capped == {kind: found[:3] for kind, found in everything.items()}
    assert everything["hourly_spike"][0][3] >= everything["hourly_spike"][-1][3]  # by score, highest first


def test_without_history_nothing_is_new(clickhouse):
    """A fresh store: the first calls it sees are not news."""
    stream = stream_of("support-bot", "gpt-4o-mini")
    first = datetime(2025, 5, 1, 12, tzinfo=timezone.utc)
    calls = [make_call(n, stream, first + timedelta(minutes=n), input_tokens=1000, output_tokens=100)
             for n in range(1, 30)]
    ClickHouseWriter(clickhouse, ()).write([], [llm_span_row(c) for c in calls], token="fresh")
    assert find_anomalies(runner_for_client(clickhouse), first - timedelta(days=1), first + timedelta(days=1),
                          settings=SETTINGS) == []


@pytest.mark.parametrize("make, message", [
    (lambda: RequestOutlierSettings(multiplier=2.5), "RequestOutlierSettings.multiplier: expected a Decimal"),
    (lambda: RequestOutlierSettings(min_cost=Decimal(-1)), "RequestOutlierSettings.min_cost: must be"),
    (lambda: RequestOutlierSettings(baseline_days=0), "RequestOutlierSettings.baseline_days: must be a positive"),
    (lambda: SpikeSettings(baseline_buckets=24, min_spend=Decimal(1), min_requests=5, min_active_buckets=48),
     "min_active_buckets \\(48\\) cannot exceed baseline_buckets \\(24\\)"),
    (lambda: NewArrivalSettings(min_requests=True), "NewArrivalSettings.min_requests"),
    (lambda: AnomalySettings(hourly=None), "AnomalySettings.hourly: expected SpikeSettings"),
])
def test_bad_settings_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_unknown_kind_is_named(anomalous):
    with pytest.raises(ValueError, match="unknown anomaly kind"):
        find_anomalies(anomalous, WINDOW_START, MONTH_END, kinds=["meteor"])
