"""Sums of money and tokens cannot wrap: every accepted call is within plausible bounds
(at most 1,000,000 USD and 100,000,000 tokens of each kind), and the store itself refuses
rows beyond them. Rollups agree with the raw rows at the bounds.

Why bounded values make overflow impossible is argued in
`llmledger.processor.normalize.validation`: Decimal(38, 12) holds 10^26, so a sum of calls
of at most 10^6 USD each needs 10^20 calls to wrap."""
from __future__ import annotations

from decimal import Decimal

import pytest
from otlp_spans import CHAT, post, request_of, span

from llmledger.processor.exporters.clickhouse import ClickHouseWriter, llm_span_row
from llmledger.processor.normalize.validation import MAX_COST_USD, MAX_TOKENS_PER_CALL
from llmledger.processor.record import LlmCall

LIMIT = 100_000_000


def test_two_costs_of_9e25_are_refused_rather_than_wrapping_the_sum(service):
    # Before the bounds, both were stored and sum(cost) wrapped to a negative number.
    spans = [span(n, "dear chat", {**CHAT, "gen_ai.usage.cost": "9e25"}) for n in (1, 2)] + [span(3, "chat", CHAT)]
    status, answer = post(service, request_of(*spans))
    assert status == 200 and answer.partial_success.rejected_spans == 2
    # gpt-4o-mini: 1000 × 0.15/1M + 100 × 0.60/1M = 0.00021
    assert service.wait_for("SELECT toString(sum(cost)) FROM llm_cost_hourly", "0.00021") == "0.00021"
    assert service.scalar("SELECT count() FROM llm_spans") == 1


def test_calls_at_the_bounds_add_up_exactly_in_every_rollup(service):
    # 400 calls at the largest accepted cost and token counts, in 4 requests.
    at_bounds = {**CHAT, "llmledger.billed_cost": str(MAX_COST_USD), "gen_ai.usage.input_tokens": LIMIT,
                 "gen_ai.usage.output_tokens": LIMIT, "gen_ai.usage.cache_read.input_tokens": LIMIT,
                 "gen_ai.usage.cache_write.input_tokens": LIMIT, "gen_ai.usage.reasoning.output_tokens": LIMIT,
                 "user.id": "big-spender"}
    for batch in range(4):
        spans = [span(batch * 100 + n + 1, "chat at the bounds", at_bounds, trace=batch + 1) for n in range(100)]
        status, answer = post(service, request_of(*spans))
        assert status == 200 and answer.partial_success.rejected_spans == 0
    for rollup in ("llm_cost_hourly", "llm_cost_daily_by_user"):  # each filled by its own view
        assert service.wait_for(f"SELECT sum(requests) FROM {rollup}", 400) == 400

    # Cache read and write (1e8 each) exceed the input count, so input excludes them:
    # input = 1e8 + 1e8 + 1e8 = 3e8 a call. Reasoning (1e8) is within output (1e8).
    # 400 calls: cost 400 × 1,000,000 = 400,000,000 USD; input 400 × 3e8 = 1.2e11 tokens.
    raw = service.query("SELECT toString(sum(cost)) AS cost, sum(input_tokens) AS input, "
                        "sum(output_tokens) AS output, count() AS requests FROM llm_spans")[0]
    assert raw == {"cost": "400000000", "input": 120_000_000_000, "output": 40_000_000_000, "requests": 400}
    hourly = service.query("SELECT toString(sum(cost)) AS cost, sum(input_tokens) AS input, "
                           "sum(output_tokens) AS output, sum(requests) AS requests FROM v_cost_hourly")[0]
    daily = service.query("SELECT toString(sum(cost)) AS cost, sum(input_tokens) AS input, "
                          "sum(output_tokens) AS output, sum(requests) AS requests FROM v_cost_daily_by_user")[0]
    assert hourly == daily == raw
    traces = service.query("SELECT toString(sum(cost)) AS cost FROM v_trace_costs")[0]
    assert traces == {"cost": "400000000"}


def _call(n: int, **fields) -> LlmCall:
    return LlmCall(timestamp_ns=1_767_225_600 * 10**9, trace_id=f"{n:032x}", span_id=f"{n:016x}", app="a",
                   provider="openai", request_model="m", usage_reported=True, **fields)


@pytest.mark.parametrize("fields", [
    {"cost": MAX_COST_USD + Decimal("1e-12")},
    {"cost": Decimal(-1)},
    {"cost": Decimal(1), "cost_details": {"input": MAX_COST_USD * 2}},
    {"input_tokens": 3 * MAX_TOKENS_PER_CALL + 1},
])
def test_the_store_refuses_rows_beyond_the_bounds_whoever_writes_them(clickhouse, fields):
    writer = ClickHouseWriter(clickhouse, ())
    writer.write([], [llm_span_row(_call(1, cost=MAX_COST_USD, input_tokens=3 * MAX_TOKENS_PER_CALL))], token="ok")
    with pytest.raises(Exception, match="VIOLATED_CONSTRAINT"):
        writer.write([], [llm_span_row(_call(2, **fields))], token="beyond")
    assert clickhouse.query("SELECT count() FROM llm_spans").result_rows == [(1,)]
