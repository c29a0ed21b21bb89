"""The savings report, what-if and TCO for a known synthetic month, against figures worked
out independently in `savings_month` from the published prices."""
from __future__ import annotations

import math
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from savings_month import MONTH_END, MONTH_START, PRICES, cost, expected_by, expected_cost, generate

from llmledger.processor.analytics import runner_for_client
from llmledger.processor.analytics.savings import savings_by
from llmledger.processor.analytics.tco import SelfHosting, compare, measured_volume
from llmledger.processor.analytics.whatif import whatif
from llmledger.processor.exporters.clickhouse import ClickHouseWriter, llm_span_row
from llmledger.processor.normalize.savings import read_savings
from llmledger.processor.pricing import Pricer
from llmledger.processor.pricing.savings import SavingsPricer
from llmledger.processor.record import LlmCall


@pytest.fixture(scope="module")
def month_calls():
    return generate()


@pytest.fixture(scope="module")
def month(chdb_dir, month_calls):
    from llmledger.processor.storage.client import connect
    from llmledger.processor.storage.migrate import migrate

    client = connect(data_dir=chdb_dir, database=f"savings_{uuid.uuid4().hex[:12]}")
    migrate(client)
    pricer = Pricer(warn_unpriced=False)
    savings = SavingsPricer(pricer)
    rows = []
    for c in month_calls:
        call = LlmCall(timestamp_ns=int(c.at.timestamp()) * 10**9, trace_id=f"{c.n:032x}", span_id=f"{c.n:016x}",
                       provider=c.provider, operation="chat", request_model=c.model, app=c.app, feature=c.feature,
                       input_tokens=c.input_tokens, output_tokens=c.output_tokens, cache_read_tokens=c.cache_read,
                       cache_write_tokens=c.cache_write, usage_reported=True, status="Ok")
        read_savings(call, c.attributes())
        pricer.price(call)
        savings.apply(call)
        rows.append(llm_span_row(call))
    ClickHouseWriter(client, ()).write([], rows, token="savings-month")
    yield runner_for_client(client)
    client.command(f"DROP DATABASE IF EXISTS {client.database}")


def _by(rows) -> dict:
    return {row.key: row.saved for row in rows}


def test_savings_by_strategy_match_the_hand_worked_month(month, month_calls):
    rows = savings_by(month, "strategy", MONTH_START, MONTH_END)
    expected = expected_by(month_calls, lambda call, strategy: strategy)
    assert _by(rows) == expected
    assert set(expected) == {"exact_cache", "semantic_cache", "routing", "fallback", "prompt_cache"}
    assert expected["fallback"] < 0 < expected["exact_cache"]  # a dearer fallback counts against the savings
    # Each strategy's share of what the month would have cost without any of them.
    total_cost = sum(expected_cost(month_calls, lambda call: "").values())
    would_have_cost = total_cost + sum(expected.values())
    for row in rows:
        assert row.cost == total_cost
        assert row.saved_share == (row.saved / would_have_cost).quantize(Decimal("1e-6"))
    counts = {row.key: row.calls for row in rows}
    assert counts["exact_cache"] == sum(1 for c in month_calls if c.cache_kind == "exact")
    assert counts["prompt_cache"] == sum(1 for c in month_calls if not c.cache_kind and (c.cache_read or c.cache_write))


@pytest.mark.parametrize("dimension", ["app", "model", "feature"])
def test_savings_by_app_model_and_feature(month, month_calls, dimension):
    rows = savings_by(month, dimension, MONTH_START, MONTH_END)
    expected = expected_by(month_calls, lambda call, strategy: getattr(call, dimension))
    assert _by(rows) == expected
    costs = expected_cost(month_calls, lambda call: getattr(call, dimension))
    for row in rows:
        assert row.cost == costs[row.key]


def test_a_range_off_whole_hours_reads_the_calls_and_agrees(month, month_calls):
    start, end = datetime(2025, 3, 3, 10, 30, tzinfo=timezone.utc), datetime(2025, 3, 9, 7, 15, tzinfo=timezone.utc)
    inside = [c for c in month_calls if start <= c.at < end]
    assert _by(savings_by(month, "strategy", start, end)) == expected_by(inside, lambda call, strategy: strategy)
    only_bot = [c for c in month_calls if c.app == "support-bot"]
    assert _by(savings_by(month, "feature", MONTH_START, MONTH_END, filters={"app": "support-bot"})) == \
        expected_by(only_bot, lambda call, strategy: call.feature)


def test_an_unknown_dimension_is_a_clear_error(month):
    with pytest.raises(ValueError, match="unknown savings dimension 'user'"):
        savings_by(month, "user", MONTH_START, MONTH_END)


def test_whatif_reprices_the_logged_tokens_on_another_model(month, month_calls):
    result = whatif(month, Pricer(warn_unpriced=False), "claude-sonnet-4", "anthropic/claude-3-5-haiku",
                    MONTH_START, MONTH_END)
    sonnet = [c for c in month_calls if c.model == "claude-sonnet-4"]
    assert result.calls == len(sonnet) and result.unpriced_calls == result.unpriced_whatif_calls == 0
    assert result.actual_cost == sum(cost("claude-sonnet-4", c) for c in sonnet)
    assert result.whatif_cost == sum(cost("claude-3-5-haiku", c) for c in sonnet)
    assert result.difference == result.whatif_cost - result.actual_cost < 0


def test_whatif_leaves_cache_hits_out(month, month_calls):
    result = whatif(month, Pricer(warn_unpriced=False), "gpt-4o-mini", "gpt-4.1", MONTH_START, MONTH_END,
                    filters={"app": "support-bot"})
    served = [c for c in month_calls if c.model == "gpt-4o-mini" and c.app == "support-bot" and not c.cache_kind]
    assert result.calls == len(served)
    assert result.whatif_cost == sum(cost("gpt-4.1", c) for c in served)


def test_whatif_on_a_model_without_a_price_says_so(month):
    result = whatif(month, Pricer(warn_unpriced=False), "gpt-4o", "no-such-model", MONTH_START, MONTH_END)
    assert result.calls == result.unpriced_whatif_calls > 0 and result.whatif_cost == 0


def test_tco_against_gpus(month, month_calls):
    volume = measured_volume(month, MONTH_START, MONTH_END)
    served = [c for c in month_calls if not c.cache_kind]
    tokens = sum(c.input_tokens + c.output_tokens for c in served)
    api = sum(cost(c.model, c) for c in served)
    assert (volume.tokens, volume.cost) == (tokens, api)
    # March has 744 hours: a month (730 h) is 730/744 of it.
    monthly_tokens = Decimal(tokens) * 730 / 744
    # One GPU at 10 tokens/s, 50% busy: 10 x 0.5 x 3600 x 730 = 13,140,000 tokens a month.
    hosting = SelfHosting(gpu_hour_cost=Decimal("1.50"), gpus=1, tokens_per_second=Decimal(10),
                          utilization=Decimal("0.5"), fixed_monthly=Decimal(100))
    result = compare(volume, hosting)
    gpus = max(1, math.ceil(monthly_tokens / 13_140_000))
    assert result.gpus_needed == gpus
    # gpus x 1.50 x 730 + 100 fixed
    assert result.self_hosted_monthly_cost == (gpus * Decimal("1095") + 100).quantize(Decimal("0.01"))
    assert result.api_monthly_cost == (api * 730 / 744).quantize(Decimal("0.01"))
    # 13.14M tokens a month are worth 13.14M x (api / tokens) at API prices: less than 1095 USD,
    # so adding GPUs never pays and the API stays cheaper at every volume past one GPU's capacity.
    per_token = api / tokens
    if 13_140_000 * per_token < 1095:
        assert (result.cheaper, result.break_even_tokens) == ("api", None)


def test_tco_break_even_with_a_fast_gpu():
    from llmledger.processor.analytics.tco import MeasuredVolume

    # 73M tokens over a 730-hour month for 730 USD: 10 USD per 1M tokens.
    volume = MeasuredVolume(datetime(2025, 1, 1, tzinfo=timezone.utc),
                            datetime(2025, 1, 31, 10, tzinfo=timezone.utc), 1000, 0, 73_000_000, Decimal(730))
    # 2 USD/h x 730 h = 1460 USD for up to 1000 x 3600 x 730 = 2,628,000,000 tokens; +540 fixed = 2000 USD.
    hosting = SelfHosting(gpu_hour_cost=Decimal(2), gpus=1, tokens_per_second=Decimal(1000),
                          fixed_monthly=Decimal(540))
    result = compare(volume, hosting)
    # Break-even: 2000 USD / (10 USD / 1M) = 200M tokens a month.
    assert result.break_even_tokens == 200_000_000
    assert (result.api_monthly_cost, result.self_hosted_monthly_cost, result.cheaper) == (
        Decimal("730.00"), Decimal("2000.00"), "api")
    assert result.verdict == "the API is cheaper this month by 1270.00 USD"
    # A price book's amortized price: 0.50 per 1M, 540 fixed -> 540 / (10 - 0.5) per 1M = 56,842,106 tokens.
    booked = compare(volume, SelfHosting(price_per_million=Decimal("0.50"), fixed_monthly=Decimal(540)))
    assert booked.break_even_tokens == 56_842_106
    assert booked.self_hosted_monthly_cost == Decimal("576.50") and booked.cheaper == "self-hosted"


def test_prices_used_here_are_the_catalogs():
    # The independent figures above rely on these published prices; the catalog must agree.
    pricer = Pricer(warn_unpriced=False)
    for model, prices in PRICES.items():
        provider = "anthropic" if model.startswith("claude") else "openai"
        card = pricer.quote_for(provider, "", model, model, "", int(MONTH_START.timestamp()) * 10**9).card
        assert (card.input.base, card.output.base) == (prices.input, prices.output), model


def _cli(capsys, runner, *argv):
    import argparse

    from llmledger.processor.cli import alternatives, costs, savings

    parser = argparse.ArgumentParser(prog="llmledger")
    subparsers = parser.add_subparsers()
    for module in (costs, savings, alternatives):
        module.register(subparsers)
    args = parser.parse_args(argv)
    status = args.func(args, runner=runner)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


RANGE = ["--from", "2025-03-01", "--to", "2025-04-01"]


def test_the_savings_command_by_strategy_as_json(capsys, month, month_calls):
    import json

    status, out, _ = _cli(capsys, month, "savings", "--by", "strategy", *RANGE, "--format", "json")
    assert status == 0
    printed = {row["strategy"]: Decimal(row["saved"]) for row in json.loads(out)}
    assert printed == expected_by(month_calls, lambda call, strategy: strategy)


def test_the_whatif_command(capsys, month, month_calls):
    import json

    status, out, _ = _cli(capsys, month, "costs", "whatif", "--model", "gpt-4.1-mini=gpt-4.1", *RANGE,
                          "--format", "json")
    assert status == 0
    figures = json.loads(out)
    routed = [c for c in month_calls if c.model == "gpt-4.1-mini"]
    assert Decimal(figures["whatif_cost"]) == sum(cost("gpt-4.1", c) for c in routed)
    with pytest.raises(SystemExit):
        _cli(capsys, month, "costs", "whatif", "--model", "gpt-4o", *RANGE)
    assert "expected FROM=TO" in capsys.readouterr().err


def test_the_tco_command_and_its_errors(capsys, month):
    status, out, _ = _cli(capsys, month, "tco", "--gpu-hour-cost", "2", "--tokens-per-second", "1000",
                          "--utilization", "0.5", *RANGE)
    assert status == 0 and "break_even_tokens" in out and "verdict" in out
    status, _, err = _cli(capsys, month, "tco", "--gpu-hour-cost", "2", *RANGE)
    assert status == 1 and "tokens per second" in err
    status, _, err = _cli(capsys, month, "tco", "--gpu-hour-cost", "2", "--tokens-per-second", "10",
                          "--utilization", "1.5", *RANGE)
    assert status == 1 and "utilisation must be in (0, 1]" in err
