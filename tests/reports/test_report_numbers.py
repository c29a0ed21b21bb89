"""Every number of the March 2025 report (its JSON form), against the same figures worked out
here from the generated calls and the published prices — not from the processor's code."""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext

import pytest
from report_month import APRIL, BUDGETS, FEBRUARY, MARCH, MILLION, OUTLIER_AT, PRICES

from llmledger.processor.pricing import Pricer
from llmledger.processor.reports.build import ReportSettings, build_report
from llmledger.processor.reports.model import ReportScope
from llmledger.processor.reports.periods import period_of
from llmledger.processor.reports.render import render_json

GENERATED_AT = datetime(2025, 4, 1, 8, 0, tzinfo=timezone.utc)
TWELVE = Decimal("1e-12")
# What the catalog charges for the cheaper siblings of the what-ifs (published prices per 1M).
CHEAPER = {"gpt-4o": "gpt-4o-mini", "gpt-4.1": "gpt-4.1-mini", "claude-sonnet-4": "claude-3-5-haiku"}


@pytest.fixture(scope="module")
def march(report_run):
    report = build_report(report_run, period_of("month", date(2025, 3, 1)), pricer=Pricer(),
                          settings=ReportSettings(pages_url="http://llmledger.example"), now=GENERATED_AT)
    return json.loads(render_json(report))


# --- the test's own arithmetic --------------------------------------------------------------------


def at(call) -> datetime:
    return datetime.fromtimestamp(call.timestamp_ns // 10**9, timezone.utc)


def within(calls, start, end):
    return [c for c in calls if start <= at(c) < end]


def cost(calls) -> Decimal | None:
    """What the calls cost; unknown (None) when some are unpriced and none is priced. Calls
    that needed no price (refused, failed before using anything) cost nothing."""
    if any(c.unpriced for c in calls) and all(c.cost is None for c in calls):
        return None
    return sum((c.cost for c in calls if c.cost is not None), Decimal(0))


def spend(calls) -> dict:
    return {"cost": cost(calls), "requests": len(calls), "unpriced_requests": sum(c.unpriced for c in calls),
            "errors": sum(c.status == "Error" for c in calls),
            "input_tokens": sum(c.input_tokens for c in calls), "output_tokens": sum(c.output_tokens for c in calls),
            "cache_read_tokens": sum(c.cache_read_tokens for c in calls),
            "cache_write_tokens": sum(c.cache_write_tokens for c in calls),
            "reasoning_tokens": sum(c.reasoning_tokens for c in calls),
            "total_tokens": sum(c.input_tokens + c.output_tokens for c in calls)}


def grouped(calls, key) -> dict:
    groups = defaultdict(list)
    for c in calls:
        groups[key(c)].append(c)
    return dict(groups)


def ranked(groups: dict) -> list:
    """Most expensive first, then most calls, then by name: the reports' order."""
    return sorted(groups, key=lambda k: (cost(groups[k]) is None, -(cost(groups[k]) or 0), -len(groups[k]), k))


def ratio(part, whole) -> Decimal:
    with localcontext() as context:
        context.prec = 60
        return (Decimal(part) / Decimal(whole)).quantize(TWELVE, rounding=ROUND_HALF_EVEN)


FIELD = {"model": lambda c: c.response_model, "app": lambda c: c.app, "team": lambda c: c.team,
         "feature": lambda c: c.feature, "provider": lambda c: c.provider, "user": lambda c: c.user_id}


def mismatches(actual, expected, path="") -> list[str]:
    """Where the JSON differs from the expected values: Decimals compare as numbers, times and
    dates by their ISO text, floats approximately."""
    if isinstance(expected, Decimal):
        ok = actual is not None and Decimal(actual) == expected
    elif isinstance(expected, (datetime, date)):
        ok = actual == expected.isoformat()
    elif isinstance(expected, float):
        ok = actual == pytest.approx(expected, rel=1e-9)
    elif isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            return [f"{path}: keys {sorted(actual) if isinstance(actual, dict) else actual!r} != {sorted(expected)}"]
        return [m for key in expected for m in mismatches(actual[key], expected[key], f"{path}.{key}")]
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: {len(actual) if isinstance(actual, list) else actual!r} items != {len(expected)}"]
        return [m for i, (a, e) in enumerate(zip(actual, expected)) for m in mismatches(a, e, f"{path}[{i}]")]
    else:
        ok = actual == expected
    return [] if ok else [f"{path}: {actual!r} != {expected!r}"]


def check(actual, expected):
    found = mismatches(actual, expected)
    assert not found, "\n".join(found[:40])


# --- the sections -------------------------------------------------------------------------------------


def test_the_period_and_the_headline(march, report_calls, report_client):
    # The store also holds three March calls' stale twins, cancelled (report_month.stale_twins):
    # every figure below leaves them out.
    assert report_client.command("SELECT countIf(sign = -1) FROM llm_spans") == 3
    now, before = within(report_calls, MARCH, APRIL), within(report_calls, FEBRUARY, MARCH)
    assert march["title"] == "LLM costs, March 2025"
    check(march["period"], {
        "kind": "month", "timezone": "UTC", "label": "March 2025", "first_day": date(2025, 3, 1),
        "last_day": date(2025, 3, 31), "start": MARCH, "end": APRIL, "previous_first_day": date(2025, 2, 1),
        "previous_last_day": date(2025, 2, 28), "previous_start": FEBRUARY, "previous_end": MARCH})
    check(march["scope"], {"dimension": None, "value": None})
    assert march["generated_at"] == GENERATED_AT.isoformat()

    priced = [c for c in now if c.cost is not None]
    with_user = [c for c in now if c.user_id]
    users = {c.user_id for c in with_user}
    check(march["headline"], {
        "cost": cost(now), "previous_cost": cost(before), "change": cost(now) - cost(before),
        "change_ratio": ratio(cost(now) - cost(before), cost(before)),
        "requests": len(now), "previous_requests": len(before),
        "requests_change_ratio": ratio(len(now) - len(before), len(before)),
        "unpriced_requests": sum(c.unpriced for c in now), "errors": 2,  # the rate-limited calls; refused ones are not errors
        "input_tokens": spend(now)["input_tokens"], "output_tokens": spend(now)["output_tokens"],
        "total_tokens": spend(now)["total_tokens"], "previous_total_tokens": spend(before)["total_tokens"],
        "tokens_change_ratio": ratio(spend(now)["total_tokens"] - spend(before)["total_tokens"],
                                     spend(before)["total_tokens"]),
        # Averages are over priced calls: the unpriced fine-tune has no cost to average.
        "cost_per_request": ratio(cost(now), len(priced)),
        "cost_per_1k_tokens": ratio(cost(now) * 1000, sum(c.input_tokens + c.output_tokens for c in priced)),
        "active_users": 12, "user_cost": cost(with_user), "cost_per_active_user": ratio(cost(with_user), len(users)),
    })
    assert len(users) == 12


def test_breakdowns_with_their_share(march, report_calls):
    now = within(report_calls, MARCH, APRIL)
    total = spend(now)
    expected = {}
    for dimension in ("model", "app", "team", "feature", "provider", "user"):
        groups = grouped(now, FIELD[dimension])
        top = ranked(groups)[:10]
        rest = [c for key in ranked(groups)[10:] for c in groups[key]]
        expected[dimension] = {
            # The share is the row's cost over the total, as Decimal divides (28 digits).
            "rows": [{"key": key, "share": None if cost(groups[key]) is None else cost(groups[key]) / total["cost"],
                      **spend(groups[key])} for key in top],
            "others": spend(rest) if rest else None,
            "total": total,
        }
    check(march["breakdowns"], expected)
    assert [row["key"] for row in march["breakdowns"]["app"]["rows"]] == [
        "support-bot", "code-review", "batch-eval", "search", "lab"]
    assert march["breakdowns"]["user"]["others"] is not None  # 12 users and calls without one: 13 keys
    # The fine-tune's calls are unpriced: unknown cost, no share. The refused drafts cost $0.
    features = {row["key"]: row for row in march["breakdowns"]["feature"]["rows"]}
    assert (features["experiment"]["cost"], features["experiment"]["share"]) == (None, None)
    assert Decimal(features["draft"]["cost"]) == 0 and features["draft"]["unpriced_requests"] == 0


def test_top_movers(march, report_calls):
    now, before = within(report_calls, MARCH, APRIL), within(report_calls, FEBRUARY, MARCH)
    expected = {}
    for dimension in ("model", "app", "team", "feature", "user"):
        current, previous = grouped(now, FIELD[dimension]), grouped(before, FIELD[dimension])
        moves = []
        for key in current.keys() | previous.keys():
            calls_then, calls_now = previous.get(key, []), current.get(key, [])
            if all(c.unpriced for c in calls_now + calls_then):  # no known cost: left out
                continue
            change = cost(calls_now) - cost(calls_then)
            if change:
                moves.append({"key": key, "cost": cost(calls_now), "previous_cost": cost(calls_then),
                              "change": change, "change_ratio": ratio(change, cost(calls_then)) if calls_then else None})
        expected[dimension] = {
            "risers": sorted((m for m in moves if m["change"] > 0), key=lambda m: (-m["change"], m["key"]))[:5],
            "fallers": sorted((m for m in moves if m["change"] < 0), key=lambda m: (m["change"], m["key"]))[:5]}
    check(march["movers"], expected)
    # New in March: a riser from nothing, whose change has no ratio.
    batch = next(m for m in march["movers"]["app"]["risers"] if m["key"] == "batch-eval")
    assert (Decimal(batch["previous_cost"]), batch["change_ratio"]) == (0, None)


def test_the_daily_trend_by_model(march, report_calls):
    now = within(report_calls, MARCH, APRIL)
    days = [date(2025, 3, 1) + timedelta(days=i) for i in range(31)]
    by_model = grouped(now, FIELD["model"])
    models = ranked(by_model)[:6]  # six models in March: no "(other)"
    assert len(by_model) == 6

    def on(calls, day):
        return [c for c in calls if at(c).date() == day]

    check(march["trend"], {
        "granularity": "day", "dimension": "model", "buckets": days,
        "totals": [cost(on(now, d)) for d in days], "requests": [len(on(now, d)) for d in days],
        # A chart stacks priced spend: the unpriced fine-tune's days add $0.
        "series": [{"key": m, "costs": [cost(on(by_model[m], d)) or Decimal(0) for d in days]} for m in models]})


def test_budget_burn(march, report_calls):
    support, everything = BUDGETS
    now = within(report_calls, MARCH, APRIL)
    support_calls = [c for c in now if c.app == "support-bot"]
    # support-monthly: the window is March itself, over by the period's end: projected = spend.
    spent = cost(support_calls)
    with localcontext() as context:
        context.prec = 60
        percent = (spent * 100 / support.limit).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    expected_support = {
        "id": "support-monthly", "scope": "app", "value": "support-bot", "window": "monthly", "timezone": "UTC",
        "limit": Decimal(6), "hard": True, "thresholds": [Decimal("0.5"), Decimal("0.8"), Decimal(1)],
        "spend": spent, "month_to_date": spent, "window_start": MARCH, "window_end": APRIL,
        "window_spend": spent, "percent": percent, "projected_spend": spent, "projected_breach_at": None,
        "exceeded": spent >= 6, "thresholds_crossed": [t for t in support.thresholds if spent >= 6 * t],
        "refused_calls": 3}
    # all-weekly (Europe/Berlin): the week holding March 31 began Monday March 31 00:00 CEST, which
    # is March 30 22:00 UTC; by the period's end (April 1 00:00 UTC) 26 of its 168 hours had passed.
    week_start = datetime(2025, 3, 30, 22, tzinfo=timezone.utc)
    week_end = week_start + timedelta(days=7)
    in_week = cost(within(now, week_start, APRIL))
    with localcontext() as context:
        context.prec = 60
        projected = (in_week * 168 / 26).quantize(TWELVE)
        # The limit is reached at this pace at start + 26 h x limit / spend (whole seconds, if in the window).
        breach_at = int(Decimal(week_start.timestamp()) + 26 * 3600 * everything.limit / in_week)
        breach = datetime.fromtimestamp(breach_at, timezone.utc)
        percent_of_week = (in_week * 100 / 2).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    expected_everything = {
        "id": "all-weekly", "scope": "all", "value": None, "window": "weekly", "timezone": "Europe/Berlin",
        "limit": Decimal(2), "hard": False, "thresholds": [Decimal("0.25"), Decimal("0.5")],
        "spend": cost(now), "month_to_date": cost(now), "window_start": week_start, "window_end": week_end,
        "window_spend": in_week, "percent": percent_of_week,
        "projected_spend": projected,
        "projected_breach_at": breach if in_week < 2 and breach < week_end else None,
        "exceeded": in_week >= 2, "thresholds_crossed": [t for t in everything.thresholds if in_week >= 2 * t],
        "refused_calls": 3}
    check(march["budgets"], [expected_everything, expected_support])  # by id
    assert expected_support["thresholds_crossed"], "the data is meant to cross a threshold"


def test_anomalies_and_new_arrivals(march, report_calls):
    now = within(report_calls, MARCH, APRIL)
    # The 200,000-token call: over 10 x the p95 of code-review's gpt-4.1 calls in the 7 days before
    # its day. p95 as quantileExact takes it: the value at index floor(0.95 n) of the sorted costs.
    baseline_calls = [c for c in within(report_calls, datetime(2025, 3, 13, tzinfo=timezone.utc),
                                        datetime(2025, 3, 20, tzinfo=timezone.utc))
                      if (c.app, c.response_model) == ("code-review", "gpt-4.1")]
    costs = sorted(c.cost for c in baseline_calls)
    p95 = costs[95 * len(costs) // 100]
    outlier = next(c for c in now if at(c) == OUTLIER_AT)
    assert outlier.cost == Decimal("0.44")
    anomalies = [{key: value for key, value in a.items() if key != "description"} for a in march["anomalies"]]
    check(anomalies, [{
        "kind": "request_outlier", "app": "code-review", "model": "gpt-4.1", "at": OUTLIER_AT,
        "observed": Decimal("0.44"), "baseline": p95, "threshold": p95 * 10, "score": round(0.44 / float(p95), 3),
        "requests": 1, "trace_ids": [outlier.trace_id]}])
    assert "one call cost $0.44" in march["anomalies"][0]["description"]

    def arrival(calls):
        return {"first_seen": min(at(c) for c in calls), "requests": len(calls), "cost": cost(calls)}

    haiku = [c for c in now if c.response_model == "claude-3-5-haiku"]
    batch = [c for c in now if c.app == "batch-eval"]
    check(march["new_models"], [{"model": "claude-3-5-haiku", **arrival(haiku)}])
    check(march["new_apps"], [{"app": "batch-eval", **arrival(batch)}])


def test_savings_cache_and_data_quality(march, report_calls):
    now = within(report_calls, MARCH, APRIL)
    # The provider's prompt cache: each cached token saved the gap between the model's input
    # price and its cache-read (or, negatively, cache-write) price, on calls the provider answered.
    cached = [c for c in now if not c.cache_kind and c.cache_read_tokens + c.cache_write_tokens]
    prompt_cache = Decimal(0)
    for c in cached:
        prices = PRICES[c.response_model]
        prompt_cache += c.cache_read_tokens * (prices.input - prices.cache_read) / MILLION
        if prices.cache_write is not None:
            prompt_cache += c.cache_write_tokens * (prices.input - prices.cache_write) / MILLION
    # The response cache, routing and fallbacks: the hand-worked figures of report_month.py.
    saved = {"exact_cache": (5, Decimal("0.025")), "semantic_cache": (2, Decimal("0.006")),
             "routing": (4, Decimal("0.0064")), "fallback": (2, Decimal("-0.0066")),
             "prompt_cache": (len(cached), prompt_cache)}
    total_saved = sum(amount for _, amount in saved.values())
    # A strategy's share is of what the period would have cost without any of them (6 places).
    would_have_cost = cost(now) + total_saved
    check(march["savings"], {"saved": total_saved, "strategies": [
        {"strategy": strategy, "calls": calls, "unvalued_calls": 0, "saved": amount,
         "saved_share": (amount / would_have_cost).quantize(Decimal("1e-6"), rounding=ROUND_HALF_EVEN)}
        for strategy, (calls, amount) in sorted(saved.items(), key=lambda item: (-item[1][1], item[0]))]})

    totals = spend(now)
    check(march["cache"], {
        "cache_read_tokens": totals["cache_read_tokens"],
        "cache_write_tokens": totals["cache_write_tokens"], "input_tokens": totals["input_tokens"],
        "read_share": ratio(totals["cache_read_tokens"], totals["input_tokens"])})
    unpriced = [c for c in now if c.unpriced]
    check(march["data_quality"], {
        "requests": len(now), "unpriced_requests": len(unpriced),
        "unpriced_models": [{"provider": "openai", "model": "acme-llama-ft", "calls": len(unpriced)}],
        "unreported_usage_calls": 4, "unreported_usage": [{"provider": "openai", "model": "gpt-4o", "calls": 4}]})


def test_quick_wins_are_labelled_what_ifs(march, report_calls):
    # Priced calls the providers answered: a response-cache hit used no tokens of theirs.
    now = [c for c in within(report_calls, MARCH, APRIL) if c.cost is not None and not c.cache_kind]
    expected = []
    # A cheaper model: the same tokens at the sibling's prices (no cache writes on the OpenAI models).
    for model, sibling in CHEAPER.items():
        calls = [c for c in now if c.response_model == model]
        prices = PRICES[sibling]
        plain = sum(c.input_tokens - c.cache_read_tokens - c.cache_write_tokens for c in calls)
        what_if = (plain * prices.input + sum(c.cache_read_tokens for c in calls) * prices.cache_read
                   + sum(c.cache_write_tokens for c in calls) * (prices.cache_write or prices.input)
                   + sum(c.output_tokens for c in calls) * prices.output) / MILLION
        expected.append({"kind": "cheaper_model", "what_if": True, "saving": cost(calls) - what_if,
                         "from_model": model, "to_model": sibling, "calls": len(calls), "actual_cost": cost(calls),
                         "what_if_cost": what_if})
    # Unused prompt caching: prompts of 1,024 tokens or more that read nothing from the cache, as if
    # read from it — at most (input price - cache-read price) per token.
    caching = []
    for model in ("gpt-4o", "claude-sonnet-4", "claude-3-5-haiku", "gpt-4.1"):
        calls = [c for c in now if c.response_model == model]
        uncached = [c for c in calls if c.input_tokens >= 1024 and c.cache_read_tokens == 0]
        tokens = sum(c.input_tokens - c.cache_write_tokens for c in uncached)
        prices = PRICES[model]
        caching.append({"kind": "prompt_caching", "what_if": True,
                        "saving": tokens * (prices.input - prices.cache_read) / MILLION,
                        "provider": calls[0].provider, "model": model, "uncached_calls": len(uncached),
                        "uncached_input_tokens": tokens, "input_tokens": sum(c.input_tokens for c in calls),
                        "input_price": prices.input, "cache_read_price": prices.cache_read})
    expected.sort(key=lambda w: (-w["saving"], w["from_model"]))
    caching.sort(key=lambda w: (-w["saving"], w["model"]))
    check(march["quick_wins"], expected + caching)


def test_links_to_the_pages_and_a_scoped_report(march, report_run, report_calls):
    assert march["links"]["overview"] == "http://llmledger.example/?from=2025-03-01&to=2025-03-31&tz=UTC"
    scoped = json.loads(render_json(build_report(
        report_run, period_of("week", date(2025, 3, 19), "Europe/Berlin"), ReportScope.parse("app=code-review"),
        pricer=Pricer(), now=GENERATED_AT)))
    # Monday March 17 to Sunday March 23 in Berlin (CET, UTC+1).
    start, end = datetime(2025, 3, 16, 23, tzinfo=timezone.utc), datetime(2025, 3, 23, 23, tzinfo=timezone.utc)
    calls = [c for c in within(report_calls, start, end) if c.app == "code-review"]
    before = [c for c in within(report_calls, start - timedelta(days=7), start) if c.app == "code-review"]
    assert scoped["title"] == "LLM costs, week 12 of 2025 (Mar 17 – Mar 23): app code-review"
    check({k: scoped["headline"][k] for k in ("cost", "previous_cost", "requests")},
          {"cost": cost(calls), "previous_cost": cost(before), "requests": len(calls)})
    assert "app" not in scoped["breakdowns"] and "app" not in scoped["movers"]  # the scope's own dimension
    assert scoped["budgets"] == []  # no budget is on code-review
    assert [a["kind"] for a in scoped["anomalies"]] == ["request_outlier"]  # its own, on March 20
    assert scoped["links"] == {}
