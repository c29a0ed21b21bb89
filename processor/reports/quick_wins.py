"""Quick wins: what-ifs computed from the period's own calls, never advice.

- a cheaper model of the same family: the period's tokens of a model re-priced on its
  cheaper sibling (the answers may not be as good; that is for people to judge);
- prompt caching left unused: prompts long enough for the providers' caches that read
  nothing from them, valued as if they had been read from the cache (an upper bound).

Re-pricing goes through a `Repricer` (by default the what-if engine of the analytics API),
so that a test or a caller can give its own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable, Mapping

from ..analytics import cache_opportunity, price_in_force, whatif
from ..analytics.runner import Runner
from ..pricing import Pricer
from ..pricing.rates import MONEY

# A cheaper model of the same family for each model (names as the catalog knows them; a dated
# version such as gpt-4o-2024-08-06 or claude-3-5-haiku-20241022 uses its family's entry).
# The config's reports.cheaper_models adds to it and overrides it.
CHEAPER_MODELS: dict[str, str] = {
    "gpt-4o": "gpt-4o-mini",
    "gpt-4.1": "gpt-4.1-mini",
    "gpt-4.1-mini": "gpt-4.1-nano",
    "gpt-5": "gpt-5-mini",
    "gpt-5-mini": "gpt-5-nano",
    "o1": "o3-mini",
    "o3": "o4-mini",
    "claude-opus-4": "claude-sonnet-4",
    "claude-opus-4-1": "claude-sonnet-4",
    "claude-sonnet-4-5": "claude-haiku-4-5",
    "claude-sonnet-4": "claude-3-5-haiku",
    "claude-3-7-sonnet": "claude-3-5-haiku",
    "claude-3-5-sonnet": "claude-3-5-haiku",
    "gemini-2.5-pro": "gemini-2.5-flash",
    "gemini-2.5-flash": "gemini-2.5-flash-lite",
    "mistral-large-latest": "mistral-small-latest",
}
_DATED = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


@dataclass(frozen=True)
class Repriced:
    calls: int  # the calls compared
    actual_cost: Decimal  # what they cost
    what_if_cost: Decimal  # what the same tokens would have cost on the other model


# (from_model, to_model, start, end, filters) -> Repriced, or None when the tokens cannot be
# priced on `to_model`.
Repricer = Callable[[str, str, datetime, datetime, dict], "Repriced | None"]


@dataclass(frozen=True, kw_only=True)
class CheaperModel:
    """What-if: the period's tokens of `from_model` on `to_model`."""

    from_model: str
    to_model: str
    calls: int
    actual_cost: Decimal
    what_if_cost: Decimal

    kind = "cheaper_model"

    @property
    def saving(self) -> Decimal:
        return self.actual_cost - self.what_if_cost


@dataclass(frozen=True, kw_only=True)
class UnusedPromptCache:
    """What-if: the cacheable prompts of `model` that read no cache, as if read from it."""

    provider: str
    model: str
    uncached_calls: int
    uncached_input_tokens: int
    input_tokens: int  # all input of the model's priced calls in the period
    input_price: Decimal  # per 1M tokens
    cache_read_price: Decimal
    saving: Decimal  # at most: uncached input tokens x (input - cache read price)

    kind = "prompt_caching"


QuickWin = CheaperModel | UnusedPromptCache


def whatif_repricer(run: Runner, pricer: Pricer) -> Repricer:
    """Re-pricing by the what-if engine (`llmledger costs whatif`): each hour's tokens at the
    other model's price in force then, cache hits left out. Calls without a price on either
    side are left out of both sums."""

    def reprice(from_model: str, to_model: str, start: datetime, end: datetime, filters: dict) -> Repriced | None:
        found = whatif(run, pricer, from_model, to_model, start, end, filters)
        compared = found.calls - found.unpriced_calls - found.unpriced_whatif_calls
        return Repriced(compared, found.actual_cost, found.whatif_cost) if compared else None

    return reprice


def family_of(model: str) -> str:
    return _DATED.sub("", model)


def cheaper_model_wins(models: list[str], reprice: Repricer, start: datetime, end: datetime, filters: dict,
                       cheaper: Mapping[str, str] = CHEAPER_MODELS) -> list[CheaperModel]:
    """For each of `models` with a cheaper sibling, the what-if, when it saves something;
    the biggest saving first."""
    found = []
    for model in models:
        sibling = cheaper.get(model) or cheaper.get(family_of(model))
        if not sibling or sibling == model:
            continue
        repriced = reprice(model, sibling, start, end, filters)
        if repriced is None or repriced.what_if_cost >= repriced.actual_cost:
            continue
        found.append(CheaperModel(from_model=model, to_model=sibling, calls=repriced.calls,
                                  actual_cost=repriced.actual_cost, what_if_cost=repriced.what_if_cost))
    return sorted(found, key=lambda w: (-w.saving, w.from_model))


def prompt_cache_wins(run: Runner, pricer: Pricer, start: datetime, end: datetime,
                      filters: dict) -> list[UnusedPromptCache]:
    """Models whose cacheable prompts read no cache, valued at their own input and cache-read
    prices (in force at the period's end); the biggest saving first."""
    found = []
    for row in cache_opportunity(run, start, end, filters):
        if not row.uncached_input_tokens:
            continue
        card = price_in_force(pricer, row.model, provider=row.provider, at=end - timedelta(microseconds=1)).card
        if card is None or card.input is None or card.cache_read is None:
            continue
        input_price, cache_price = card.input.base, card.cache_read.base
        saving = MONEY.multiply(input_price - cache_price, row.uncached_input_tokens).scaleb(-6, MONEY)
        if saving <= 0:
            continue
        found.append(UnusedPromptCache(provider=row.provider, model=row.model, uncached_calls=row.uncached_calls,
                                       uncached_input_tokens=row.uncached_input_tokens, input_tokens=row.input_tokens,
                                       input_price=input_price, cache_read_price=cache_price, saving=saving))
    return sorted(found, key=lambda w: (-w.saving, w.model))
