"""A few calls whose figures are worked out by hand from published prices (USD per 1M
tokens), and a trace drilldown over spans of every kind."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from analytics_month import make_call, stream_of

from llmledger.processor.analytics import cost_by, runner_for_client, summary, trace_cost
from llmledger.processor.analytics.dimensions import parse_dimension
from llmledger.processor.analytics.sources import (CALLS, DAILY_ROLLUP, DAILY_USERS, HOURLY_ROLLUP, HOURS_AND_DAYS,
                                                  USER_DAYS, source_for)
from llmledger.processor.exporters.clickhouse import ClickHouseWriter, llm_span_row

T = datetime(2025, 6, 2, 9, 15, tzinfo=timezone.utc)
DAY_START, DAY_END = datetime(2025, 6, 2, tzinfo=timezone.utc), datetime(2025, 6, 3, tzinfo=timezone.utc)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"

ANSWER = stream_of("support-bot", "gpt-4o-mini")
REVIEW = stream_of("code-review", "claude-sonnet-4")
LAB = stream_of("lab", "acme-llama-ft")


def _calls():
    return [
        # gpt-4o-mini, 10,000 input of which 4,000 cache reads, 1,000 output:
        # 6,000 x 0.15/1M + 4,000 x 0.075/1M + 1,000 x 0.60/1M = 0.0009 + 0.0003 + 0.0006 = 0.0018
        make_call(1, ANSWER, T, input_tokens=10_000, cache_read=4_000, output_tokens=1_000, trace_id=TRACE),
        # claude-sonnet-4, 20,000 input = 2,000 plain + 15,000 cache reads + 3,000 cache writes, 500 output:
        # 2,000 x 3/1M + 15,000 x 0.30/1M + 3,000 x 3.75/1M + 500 x 15/1M
        # = 0.006 + 0.0045 + 0.01125 + 0.0075 = 0.02925
        make_call(2, REVIEW, T, input_tokens=20_000, cache_read=15_000, cache_write=3_000, output_tokens=500,
                  trace_id=TRACE),
        # A model without a price: tokens kept, cost NULL.
        make_call(3, LAB, T, input_tokens=1_000, output_tokens=100, trace_id=TRACE),
        # gpt-4o-mini where every input token was a cache read:
        # 2,048 x 0.075/1M + 10 x 0.60/1M = 0.0001536 + 0.000006 = 0.0001596
        make_call(4, ANSWER, T, input_tokens=2_048, cache_read=2_048, output_tokens=10),
    ]


@pytest.fixture
def run(clickhouse):
    ClickHouseWriter(clickhouse, ()).write([], [llm_span_row(c) for c in _calls()], token="hand-worked")
    return runner_for_client(clickhouse)


def test_summary_figures(run):
    result = summary(run, DAY_START, DAY_END)
    # 0.0018 + 0.02925 + 0.0001596 = 0.0312096
    assert result.cost == Decimal("0.0312096")
    assert (result.requests, result.priced_requests, result.unpriced_requests) == (4, 3, 1)
    # (10,000 + 1,000) + (20,000 + 500) + (1,000 + 100) + (2,048 + 10) = 34,658; priced: 34,658 - 1,100 = 33,558
    assert (result.total_tokens, result.priced_tokens) == (34_658, 33_558)
    assert result.cache_read_tokens == 4_000 + 15_000 + 2_048
    # 0.0312096 / 3 priced calls = 0.0104032
    assert result.average_cost_per_request == Decimal("0.0104032")
    # 0.0312096 x 1000 / 33,558 = 0.000930019667441…, to 12 places
    assert result.average_cost_per_1k_tokens == Decimal("0.000930019667")
    # Cache reads at the input rate minus what they cost:
    # gpt-4o-mini 4,000 x (0.15 - 0.075)/1M = 0.0003; claude-sonnet-4 15,000 x (3.00 - 0.30)/1M = 0.0405.
    # The last call had no uncached input to read its input rate from: unknown, counted.
    assert result.cache_savings == Decimal("0.0408")
    assert result.cache_savings_unknown_requests == 1


def test_cost_by_provider(run):
    rows = cost_by(run, "provider", DAY_START, DAY_END)
    # anthropic: 0.02925; openai: 0.0018 + 0.0001596 = 0.0019596 (+ the unpriced lab call, openai too)
    assert [(r.key, r.cost, r.requests, r.unpriced_requests) for r in rows] == [
        ("anthropic", Decimal("0.02925"), 1, 0),
        ("openai", Decimal("0.0019596"), 3, 1),
    ]


def test_trace_drilldown(clickhouse, run):
    """The trace has an HTTP server span and a tool span besides its three LLM calls."""
    columns = ("Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ServiceName",
               "Duration", "StatusCode")
    ns = int(T.timestamp()) * 10**9
    spans = [
        [ns - 10**9, TRACE, "a" * 16, "", "POST /chat", "Server", "support-bot", 9 * 10**9, "Ok"],
        [ns, TRACE, f"{1:016x}", "a" * 16, "chat gpt-4o-mini", "Client", "support-bot", 10**9, "Ok"],
        [ns, TRACE, f"{2:016x}", "a" * 16, "chat claude-sonnet-4", "Client", "support-bot", 10**9, "Ok"],
        [ns, TRACE, f"{3:016x}", "a" * 16, "chat acme-llama-ft", "Client", "support-bot", 10**9, "Ok"],
        [ns + 10**9, TRACE, "b" * 16, "a" * 16, "execute_tool search", "Internal", "support-bot", 10**8, "Ok"],
    ]
    ClickHouseWriter(clickhouse, columns).write(spans, [], token="trace-spans")

    trace = trace_cost(run, TRACE.upper())  # ids are looked up in lowercase, as stored
    # 0.0018 + 0.02925, and the unpriced call counted apart
    assert trace.cost == Decimal("0.03105")
    assert (trace.llm_calls, trace.unpriced_calls, trace.span_count) == (3, 1, 5)
    assert trace.apps == ("code-review", "lab", "support-bot")
    assert [(c.span_id, c.model, c.cost) for c in trace.calls] == [
        (f"{1:016x}", "gpt-4o-mini", Decimal("0.0018")),
        (f"{2:016x}", "claude-sonnet-4", Decimal("0.02925")),
        (f"{3:016x}", "acme-llama-ft", None),
    ]
    assert trace.first_call == T and trace.calls[0].timestamp == T


def test_trace_without_llm_calls(clickhouse, run):
    columns = ("Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ServiceName")
    other = "c" * 32
    ClickHouseWriter(clickhouse, columns).write(
        [[int(T.timestamp()) * 10**9, other, "d" * 16, "", "GET /health", "Server", "support-bot"]], [],
        token="no-llm")
    trace = trace_cost(run, other)
    assert (trace.cost, trace.llm_calls, trace.span_count, trace.calls) == (Decimal(0), 0, 1, ())


def test_trace_that_is_not_stored(run):
    assert trace_cost(run, "0" * 31 + "1") is None
    with pytest.raises(ValueError, match="not a trace id"):
        trace_cost(run, "not-a-trace")


def test_whole_hour_ranges_over_rollup_dimensions_read_the_rollup():
    app, user, tier = parse_dimension("app"), parse_dimension("user"), parse_dimension("tag:tier")
    # Whole UTC days read the daily rollup; whole hours around them the hourly one too.
    assert source_for([app], DAY_START, DAY_END) is DAILY_ROLLUP
    assert source_for([app], DAY_START + timedelta(hours=3), DAY_END + timedelta(days=2)) is HOURS_AND_DAYS
    assert source_for([app], DAY_START, DAY_END, hourly_buckets=True) is HOURLY_ROLLUP
    assert source_for([app], T, DAY_END) is CALLS  # 09:15 is inside an hour
    # No user in the hourly rollup: whole UTC days read a daily one by user, other ranges the calls.
    assert source_for([user], DAY_START, DAY_END) is USER_DAYS
    assert source_for([app, user], DAY_START, DAY_END) is DAILY_USERS
    assert source_for([app, user], DAY_START, DAY_END, hourly_buckets=True) is CALLS
    assert source_for([app, user], DAY_START + timedelta(hours=1), DAY_END) is CALLS
    assert source_for([app, user], DAY_START, DAY_END, ZoneInfo("Europe/Berlin")) is CALLS  # Berlin days
    # One tag over whole UTC days: the daily rollup by tag; two tags, or a tag and a user, the calls.
    assert source_for([tier, app], DAY_START, DAY_END).parameters == {"rollup_tag": "tier"}
    assert source_for([tier, parse_dimension("tag:region")], DAY_START, DAY_END) is CALLS
    assert source_for([tier, user], DAY_START, DAY_END) is CALLS
    assert source_for([tier], DAY_START, DAY_END + timedelta(hours=1)) is CALLS
    # Calendar days of a zone that are not UTC days: the hourly rollup alone.
    assert source_for([app], DAY_START, DAY_END, ZoneInfo("Europe/Berlin")) is HOURLY_ROLLUP
    assert source_for([app], DAY_START, DAY_END, ZoneInfo("Asia/Kolkata")) is CALLS  # days begin at :30 UTC
