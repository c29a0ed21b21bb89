"""What the logged calls of one model would have cost on another: the measured tokens,
re-priced at the other model's price in force at the time.

    result = whatif(run, pricer, "gpt-4o", "gpt-4o-mini", start, end)
    result.actual_cost, result.whatif_cost, result.difference

`to_model` may name its provider (`anthropic/claude-sonnet-4`); otherwise each call keeps
its own provider (and server, and service tier). Cache hits are left out: they used no
tokens on either model. Calls whose tokens have no price on the other model are counted
in `unpriced_whatif_calls` and left out of both sums, so that the two stay comparable.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from ..pricing import Pricer, RateCard
from ..pricing.rates import INPUT_ONLY_OPERATIONS, MONEY, CannotPrice, Rate, store_scale
from .dimensions import filter_conditions
from .runner import Runner, as_decimal, as_moment, fetch
from .sql_files import load_sql
from .time_range import checked_range, range_parameters

_RATE_FIELDS = ("input", "cache_read", "cache_write", "output", "reasoning")


@dataclass(frozen=True)
class WhatIf:
    from_model: str
    to_model: str
    start: datetime
    end: datetime
    calls: int
    unpriced_calls: int  # calls with no stored cost (left out of both sums)
    unpriced_whatif_calls: int  # calls with no price on `to_model` (left out of both sums)
    actual_cost: Decimal  # what the compared calls cost
    whatif_cost: Decimal  # what they would have cost on `to_model`
    difference: Decimal  # whatif - actual: negative means `to_model` is cheaper
    input_tokens: int
    output_tokens: int


def whatif(run: Runner, pricer: Pricer, from_model: str, to_model: str, start: datetime | date,
           end: datetime | date, filters: dict | None = None) -> WhatIf:
    if not from_model or not to_model:
        raise ValueError("what-if needs two models: FROM=TO, e.g. gpt-4o=gpt-4o-mini")
    start, end = checked_range(start, end)
    to_provider, _, name = to_model.rpartition("/")
    _, conditions, parameters = filter_conditions(filters)
    parameters.update(range_parameters(start, end), from_model=from_model)
    where = "".join(f" AND {condition}" for condition in conditions)

    def card(provider: str, address: str, tier: str, at_ns: int) -> RateCard | None:
        provider_of_to = to_provider or provider
        return pricer.quote_for(provider_of_to, address if provider_of_to == provider else "", name, name, tier,
                                at_ns).card

    end_ns = int(end.timestamp()) * 10**9
    thresholds: set[int] = set()
    for row in fetch(run, load_sql("whatif_providers").replace("{conditions}", where), parameters):
        found = card(row["provider"], row["server_address"], row["service_tier"], end_ns)
        if found is not None:
            thresholds.update(_step_thresholds(found))
    parameters["thresholds"] = sorted(thresholds)

    calls = unpriced = unpriced_whatif = input_tokens = output_tokens = 0
    actual = whatif_cost = Decimal(0)
    for row in fetch(run, load_sql("whatif_usage").replace("{conditions}", where), parameters):
        count = int(row["calls"])
        calls += count
        input_tokens += int(row["sum_input_tokens"])
        output_tokens += int(row["sum_output_tokens"])
        if int(row["unpriced_calls"]):
            unpriced += count  # a group with unpriced calls cannot be compared as a whole
            continue
        at_ns = int(as_moment(row["hour"]).timestamp()) * 10**9
        found = card(row["provider"], row["server_address"], row["service_tier"], at_ns)
        cost = None if found is None else _cost_of_totals(found, row)
        if cost is None:
            unpriced_whatif += count
            continue
        actual = MONEY.add(actual, as_decimal(row["paid"]))
        whatif_cost = MONEY.add(whatif_cost, cost)
    return WhatIf(from_model, to_model, start, end, calls, unpriced, unpriced_whatif, actual, whatif_cost,
                  MONEY.subtract(whatif_cost, actual), input_tokens, output_tokens)


def _step_thresholds(card: RateCard) -> set[int]:
    return {above for field in _RATE_FIELDS if (rate := getattr(card, field)) is not None for above, _ in rate.steps}


def _cost_of_totals(card: RateCard, row: dict) -> Decimal | None:
    """The summed tokens of a group of calls that share one long-context step, priced on `card`."""
    at = int(row["step_input_tokens"])
    flat = {field: Rate(rate.at(at)) for field in _RATE_FIELDS if (rate := getattr(card, field)) is not None}
    flat_card = replace(card, request=None, **flat)
    try:
        total, _ = flat_card.cost(
            input_tokens=int(row["sum_input_tokens"]), output_tokens=int(row["sum_output_tokens"]),
            cache_read_tokens=int(row["sum_cache_read_tokens"]), cache_write_tokens=int(row["sum_cache_write_tokens"]),
            reasoning_tokens=int(row["sum_reasoning_tokens"]), input_only=row["operation"] in INPUT_ONLY_OPERATIONS)
    except CannotPrice:
        return None
    if card.request is not None:
        total = MONEY.add(total, store_scale(MONEY.multiply(card.request, int(row["calls"]))))
    return total
