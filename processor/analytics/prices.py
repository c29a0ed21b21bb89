"""Prices as people look them up: the price in force for a model, how it changed, and what
a given usage would cost. The pricing stage's own code answers (processor/pricing), so a
page or a report shows exactly what a call is charged."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from ..pricing import Pricer
from ..pricing.catalog import EARLIEST, LATEST, datetime_from_ns, ns_from_datetime
from ..pricing.rates import COMPONENTS, RateCard
from ..record import LlmCall

TIERS = ("", "batch", "flex", "priority")  # "" is the standard tier
_MOST_LOOKUPS = 500  # quotes looked at for one history, merged periods included


@dataclass(frozen=True, kw_only=True)
class PricePeriod:
    """A price that held over [valid_from, valid_until) (None: since/until forever), or why
    there was none (`card` None, `reason` says)."""

    card: RateCard | None
    reason: str
    valid_from: datetime | None
    valid_until: datetime | None


@dataclass(frozen=True, kw_only=True)
class CostEstimate:
    """What one call with the given usage costs, component by component (the calculation of
    `llmledger prices test`); `cost` None with `reason` when the model has no price."""

    model: str
    at: datetime
    tier: str
    cost: Decimal | None
    components: dict[str, Decimal]
    source: str
    version: str
    reason: str = ""


def price_in_force(pricer: Pricer, model: str, *, provider: str = "", at: datetime | None = None,
                   tier: str = "") -> PricePeriod:
    """The price for `model` (through `provider`, if given) at `at` (default now)."""
    at_ns = ns_from_datetime(at or datetime.now(timezone.utc))
    return _period(pricer.quote_for(provider, "", model, "", tier, at_ns))


def price_history(pricer: Pricer, model: str, *, provider: str = "", until: datetime | None = None,
                  tier: str = "", most: int = 20) -> list[PricePeriod]:
    """The prices `model` had up to `until` (default now), newest first: the price book's
    effective dates and the catalog's price changes, each period as the pricer sees it."""
    at_ns = ns_from_datetime(until or datetime.now(timezone.utc))
    found: list[PricePeriod] = []
    for _ in range(_MOST_LOOKUPS):
        if len(found) >= most:
            break
        quote = pricer.quote_for(provider, "", model, "", tier, at_ns)
        period = _period(quote)
        if found and (found[-1].card, found[-1].reason) == (period.card, period.reason):
            # The catalog also switches at times where nothing changes: one period, then.
            found[-1] = PricePeriod(card=period.card, reason=period.reason, valid_from=period.valid_from,
                                    valid_until=found[-1].valid_until)
        else:
            found.append(period)
        if quote.valid_from_ns <= EARLIEST:
            break
        at_ns = quote.valid_from_ns - 1
    return found


def estimate_cost(pricer: Pricer, model: str, *, provider: str = "", at: datetime | None = None, tier: str = "",
                  operation: str = "chat", input_tokens: int = 0, output_tokens: int = 0,
                  cache_read_tokens: int = 0, cache_write_tokens: int = 0, reasoning_tokens: int = 0) -> CostEstimate:
    """Price one call with this usage as the pipeline would. Input includes the cache read and
    write tokens, output the reasoning tokens (the GenAI conventions)."""
    for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens),
                        ("cache_read_tokens", cache_read_tokens), ("cache_write_tokens", cache_write_tokens),
                        ("reasoning_tokens", reasoning_tokens)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number of 0 or more, got {value!r}")
    at = at or datetime.now(timezone.utc)
    call = LlmCall(timestamp_ns=ns_from_datetime(at), trace_id="", span_id="", provider=provider,
                   operation=operation, request_model=model, service_tier=tier, input_tokens=input_tokens,
                   output_tokens=output_tokens, cache_read_tokens=cache_read_tokens,
                   cache_write_tokens=cache_write_tokens, reasoning_tokens=reasoning_tokens, usage_reported=True)
    pricer.price(call)
    if call.unpriced:
        return CostEstimate(model=model, at=at, tier=tier, cost=None, components={}, source="", version="",
                            reason=pricer.unpriced_reasons.get((call.provider, call.model), "no price"))
    components = {name: call.cost_details[name] for name in COMPONENTS if name in call.cost_details}
    return CostEstimate(model=model, at=at, tier=tier, cost=call.cost, components=components,
                        source=call.price_source, version=call.price_version)


def _period(quote) -> PricePeriod:
    return PricePeriod(card=quote.card, reason=quote.reason,
                       valid_from=None if quote.valid_from_ns <= EARLIEST else datetime_from_ns(quote.valid_from_ns),
                       valid_until=None if quote.valid_until_ns >= LATEST else datetime_from_ns(quote.valid_until_ns))
