"""Breakdowns and savings count a call's current version only: once a correction cancels a
stored call (a twin found later), it is gone from the pages' figures, whichever store
answers (the hourly rollups or the per-call rows)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from analytics_month import load, make_call, stream_of

from llmledger.processor.analytics import cost_by, most_expensive_calls, runner_for_client, savings_by
from llmledger.processor.corrections.replacements import Replacement, apply_replacements

AT = datetime(2025, 3, 10, 10, 15, tzinfo=timezone.utc)
WHOLE_DAY = (datetime(2025, 3, 10, tzinfo=timezone.utc), datetime(2025, 3, 11, tzinfo=timezone.utc))
WHOLE_HOUR = (datetime(2025, 3, 10, 10, tzinfo=timezone.utc), datetime(2025, 3, 10, 11, tzinfo=timezone.utc))
PART_OF_IT = (datetime(2025, 3, 10, 10, 1, tzinfo=timezone.utc), datetime(2025, 3, 10, 10, 59, tzinfo=timezone.utc))


@pytest.fixture
def corrected(clickhouse):
    stream = stream_of("support-bot", "gpt-4o-mini")
    kept = [make_call(n, stream, AT, input_tokens=1000, output_tokens=100, user="ann", tags={"tier": "gold"})
            for n in (1, 2)]
    # A response-cache hit seen again later under another app's name: its twin is kept.
    twin = replace(make_call(3, stream, AT, input_tokens=1000, output_tokens=100, app="replayer", user="bob",
                             tags={"tier": "gold"}),
                   cost=Decimal(0), cost_details={}, cache_kind="exact", saving_strategy="exact_cache",
                   saved_cost=Decimal("0.000210"))
    load(clickhouse, kept + [twin])
    apply_replacements(clickhouse, [Replacement(twin.trace_id, twin.span_id, kept[0].trace_id, kept[0].span_id)])
    return runner_for_client(clickhouse)


@pytest.mark.parametrize("window", [WHOLE_HOUR, PART_OF_IT], ids=["rollup", "calls"])
def test_a_cancelled_call_leaves_the_breakdown(corrected, window):
    rows = cost_by(corrected, "app", *window)
    # 2 calls x (1,000 input x $0.15 + 100 output x $0.60) / 1M = 2 x $0.00021
    assert [(r.key, r.requests, r.cost) for r in rows] == [("support-bot", 2, Decimal("0.00042"))]


@pytest.mark.parametrize("dimension, key", [("app", "support-bot"), ("user", "ann"), ("tag:tier", "gold")])
def test_a_cancelled_call_leaves_the_daily_rollups(corrected, dimension, key):
    # The daily rollups (by the seven dimensions, by user, by tag) net the cancel row out too.
    rows = cost_by(corrected, dimension, *WHOLE_DAY)
    assert [(r.key, r.requests, r.cost) for r in rows] == [(key, 2, Decimal("0.00042"))]


@pytest.mark.parametrize("window", [WHOLE_HOUR, PART_OF_IT], ids=["rollup", "calls"])
def test_a_cancelled_call_saves_nothing(corrected, window):
    assert savings_by(corrected, "strategy", *window) == []


def test_a_cancelled_call_is_not_among_the_most_expensive(clickhouse):
    stream = stream_of("support-bot", "gpt-4o-mini")
    # Costs: call 1 1,000 in x $0.15 + 100 out x $0.60 per 1M = $0.00021; call 2 at 10x the
    # tokens $0.0021; call 3, the dearest ($0.021, 100x), is a twin of call 1 and cancelled.
    calls = [make_call(n, stream, AT, input_tokens=1000 * scale, output_tokens=100 * scale)
             for n, scale in ((1, 1), (2, 10), (3, 100))]
    load(clickhouse, calls)
    apply_replacements(clickhouse, [Replacement(calls[2].trace_id, calls[2].span_id, calls[0].trace_id,
                                                calls[0].span_id)])
    run = runner_for_client(clickhouse)
    # The top-N looks at one row more than asked for per cancel row, so the limit still holds.
    assert [(c.span_id, c.cost) for c in most_expensive_calls(run, *WHOLE_DAY, limit=1)] == [
        (calls[1].span_id, Decimal("0.0021"))]
    assert [c.cost for c in most_expensive_calls(run, *WHOLE_DAY, limit=5)] == [Decimal("0.0021"),
                                                                                 Decimal("0.00021")]


def test_a_cancelled_call_leaves_the_anomaly_rollups(corrected):
    """The app/model hourly rollup and the cost histogram (spikes, new apps, outlier days) net
    the cancel row out: the twin's app has no call left, and no bucket counts it."""
    hourly = corrected("SELECT app, model, sum(requests), sum(priced_requests), sum(cost) FROM llm_app_model_hourly "
                       "GROUP BY app, model HAVING sum(requests) != 0 ORDER BY app")[1]
    # 2 calls x $0.00021 (see above)
    assert [tuple(row) for row in hourly] == [("support-bot", "gpt-4o-mini", 2, 2, Decimal("0.00042"))]
    buckets = corrected("SELECT app, bucket, sum(calls) FROM llm_cost_histogram_daily "
                        "GROUP BY app, bucket HAVING sum(calls) != 0 ORDER BY app, bucket")[1]
    # $0.00021 = 2^-12.217...: bucket floor(8 x -12.217...) = floor(-97.74) = -98.
    assert [tuple(row) for row in buckets] == [("support-bot", -98, 2)]
