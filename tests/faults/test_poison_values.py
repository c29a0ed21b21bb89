"""A value that cannot be stored rejects its own span before the 200, never the request.

Each column's type has a range (DateTime64(9) ends in 2262, token counts are UInt64, costs
Decimal(38, 12)); a span whose values fall outside it used to be acknowledged and then sank
its whole batch at insert time. Now it is rejected through OTLP partial success with the
reason, and its siblings are stored.
"""
from __future__ import annotations

import time

from otlp_spans import CHAT, post, request_of, span

from service_harness import start_service

NOW = time.time_ns()
DAY_NS = 86_400 * 10**9


def _poison_spans():
    """(span, the reason the service must give for rejecting it)."""
    return [
        (span(101, "event at 2^63", CHAT, events=[("token", 2**63)]), "after 2262-04-11"),
        (span(102, "event at 2^64-1", {"http.route": "/x"}, events=[("ok", NOW), ("late", 2**64 - 1)]),
         "after 2262-04-11"),
        (span(103, "reported 1e30", {**CHAT, "gen_ai.usage.cost": 1e30}), "reported cost 1E+30 USD is outside"),
        (span(104, "reported 9e25", {**CHAT, "gen_ai.usage.cost": "9e25"}), "reported cost 9E+25 USD is outside"),
        (span(105, "one picodollar too dear", {**CHAT, "gen_ai.usage.cost": "1000000.000000000001"}),
         "outside 0 to 1,000,000 USD"),
        (span(106, "2^64-1 tokens", {**CHAT, "gen_ai.usage.output_tokens": str(2**64 - 1)}),
         "more than 100,000,000 tokens in one call"),
        (span(107, "2^63-1 tokens", {**CHAT, "gen_ai.usage.input_tokens": 2**63 - 1}),
         "more than 100,000,000 tokens in one call"),
    ]


def test_poison_values_reject_their_span_and_the_siblings_are_stored(service):
    poison = _poison_spans()
    siblings = [
        span(1, "plain chat", CHAT),
        span(2, "at the last storable instant", {"http.route": "/y"}, events=[("end of time", 2**63 - 1)]),
        span(3, "costs exactly the bound", {**CHAT, "llmledger.billed_cost": "1000000"}),
        span(4, "a 4 MiB attribute", {**CHAT, "llm.prompt": "x" * (4 << 20)}),
        span(5, "nul bytes and emoji", {**CHAT, "user.id": "a\x00b \U0001f600"}),
        span(6, "a picodollar", {**CHAT, "llmledger.billed_cost": "0.000000000001"}),
    ]
    status, answer = post(service, request_of(*[s for s, _ in poison], *siblings))
    assert status == 200
    assert answer.partial_success.rejected_spans == len(poison)
    # The message gives five of the reasons, each after the span it is about.
    reasons = dict(entry.split("): ", 1) for entry in answer.partial_success.error_message.split("; "))
    expected = {f"span {bad.name!r} ({bad.span_id.hex()}": reason for bad, reason in poison}
    assert len(reasons) == 5
    for named, given in reasons.items():
        assert expected[named] in given

    assert service.wait_for("SELECT count() FROM llm_spans", 5) == 5  # written after otel_traces
    assert service.scalar("SELECT count() FROM otel_traces") == len(siblings)
    names = {row["SpanName"] for row in service.query("SELECT SpanName FROM otel_traces")}
    assert names == {s.name for s in siblings}
    calls = service.query("SELECT span_id, toString(cost) AS cost, user_id, price_source FROM llm_spans "
                          "ORDER BY span_id")
    assert [(c["span_id"][-1], c["cost"], c["price_source"]) for c in calls] == [
        # gpt-4o-mini: 1000 × 0.15/1M + 100 × 0.60/1M = 0.00015 + 0.00006 = 0.00021
        ("1", "0.00021", "catalog"), ("3", "1000000", "billed"), ("4", "0.00021", "catalog"),
        ("5", "0.00021", "catalog"), ("6", "0.000000000001", "billed")]
    assert calls[3]["user_id"] == "a\x00b \U0001f600"
    assert not (service.data_dir / "dead-letter.jsonl").exists()


def test_a_backfill_of_many_days_in_one_batch_is_stored(tmp_path):
    # ClickHouse refuses an insert touching more than 100 partitions by default (one a day in
    # otel_traces): a batch of old spans from 150 days must not be refused on every retry.
    # (Raw spans are kept 400 days here, so that none of them expires during the test.)
    service = start_service(tmp_path / "data", env={"LLMLEDGER_RETENTION_RAW_SPANS_DAYS": "400"})
    try:
        spans = [span(n + 1, "backfilled chat", CHAT, trace=n + 1, start_ns=NOW - (n + 1) * DAY_NS)
                 for n in range(150)]
        status, answer = post(service, request_of(*spans))
        assert status == 200 and answer.partial_success.rejected_spans == 0
        assert service.wait_for("SELECT count() FROM llm_spans", 150) == 150
        assert service.scalar("SELECT uniqExact(toDate(Timestamp)) FROM otel_traces") == 150
        assert service.wait_for("SELECT sum(requests) FROM llm_cost_hourly", 150) == 150
    finally:
        service.stop()
