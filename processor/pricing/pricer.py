"""The pricing stage: fills in what each LLM call cost.

Precedence: a cost the provider billed > the user's price book > the bundled catalog.
A cost another tool estimated (OpenLIT, LiteLLM, pydantic-ai) is never the cost: it is
compared with ours and the disagreement flagged. Token counts a tool estimated are not
priced at all, and a call that failed without usage or was refused by the budget guard
has no cost and is not "unpriced" either. The price is the one in force at the call's
own timestamp.

Speed: finding a model and selecting its price is slow (the catalog matches model
names against thousands of patterns), so the answer is cached per (provider, host,
models, service tier) together with the exact interval of time over which it
holds: the bounds are the price book's `effective_from` instants and the catalog's
own date and time-of-day switches, not calendar days. Pricing a call is then a
dict lookup, an interval check and a handful of Decimal multiplications.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from ..record import LlmCall
from .catalog import EARLIEST, LATEST, Catalog, CatalogModel, bundled_catalog
from .price_book import DiscountRule, ModelEntry, PriceBook
from .providers import normalize_tier
from .rates import INPUT_ONLY_OPERATIONS, CannotPrice, RateCard, store_scale

log = logging.getLogger(__name__)

# Cache keys remembered at most: model names arrive from outside, so the caches are
# bounded; past this many, they are dropped and rebuilt on demand.
_MAX_CACHED_KEYS = 50_000

# Answers remembered per cache key: spans mostly arrive in time order, so the interval
# in force "now" is nearly always the one hit; a few more serve late or replayed spans.
_INTERVALS_PER_KEY = 16


@dataclass(frozen=True, slots=True)
class Quote:
    """The price for a call, or why it has none, valid over [valid_from_ns, valid_until_ns)."""

    card: RateCard | None
    reason: str
    valid_from_ns: int = EARLIEST
    valid_until_ns: int = LATEST


class _Schedule:
    """The quotes computed so far for one cache key, newest first."""

    __slots__ = ("quotes",)

    def __init__(self) -> None:
        self.quotes: list[Quote] = []

    def find(self, at_ns: int) -> Quote | None:
        for quote in self.quotes:
            if quote.valid_from_ns <= at_ns < quote.valid_until_ns:
                return quote
        return None

    def remember(self, quote: Quote) -> None:
        self.quotes.insert(0, quote)
        del self.quotes[_INTERVALS_PER_KEY:]


class Pricer:
    """Fills `cost`, `cost_details`, `price_source`, `price_version` and `unpriced` of LLM calls."""

    def __init__(self, price_book: PriceBook | None = None, *, catalog: Catalog | None = None,
                 warn_unpriced: bool = True):
        self.price_book = price_book
        self.catalog = catalog or bundled_catalog()
        self.warn_unpriced = warn_unpriced  # log a warning the first time a (provider, model) is unpriced
        # (provider, model) -> number of calls left unpriced, and the latest reason why.
        self.unpriced_counts: Counter[tuple[str, str]] = Counter()
        self.unpriced_reasons: dict[tuple[str, str], str] = {}
        self._schedules: dict[tuple[str, str, str, str, str], _Schedule] = {}

    def price(self, call: LlmCall) -> None:
        """Fill call.cost, call.cost_details, call.price_source, call.price_version, call.unpriced,
        and call.reported_cost_disagrees."""
        self._price(call)
        if call.reported_cost is not None:
            # Kept as the store keeps money: a tool's float noise past 12 places is rounded off.
            call.reported_cost = store_scale(call.reported_cost)
        call.reported_cost_disagrees = disagrees(call.reported_cost, call.cost)

    def _price(self, call: LlmCall) -> None:
        if call.status == "Refused" or (call.status == "Error" and not _has_tokens(call)):
            # Never sent, or failed before it used anything: no cost, and nothing to price.
            call.cost, call.cost_details = None, {}
            call.price_source, call.price_version, call.unpriced = "", "", False
            return
        if _usable_billed_cost(call):
            # The provider's own bill; its split into components is not known.
            call.cost, call.cost_details = store_scale(call.billed_cost), {}
            call.price_source, call.price_version, call.unpriced = "billed", "billed", False
            return
        if not call.usage_reported and not _has_tokens(call):
            self._leave_unpriced(call, "the span reported no token usage")
            return
        if call.usage_source == "estimated":
            self._leave_unpriced(call, "its token counts were estimated by the instrumentation, not reported "
                                       "by the provider")
            return
        quote = self.quote_for(call.provider, call.server_address, call.response_model, call.request_model,
                               call.service_tier, call.timestamp_ns)
        if quote.card is None:
            self._leave_unpriced(call, quote.reason)
            return
        try:
            total, details = quote.card.cost(
                input_tokens=call.input_tokens,
                output_tokens=call.output_tokens,
                cache_read_tokens=call.cache_read_tokens,
                cache_write_tokens=call.cache_write_tokens,
                reasoning_tokens=call.reasoning_tokens,
                input_only=call.operation in INPUT_ONLY_OPERATIONS,
            )
        except CannotPrice as exc:
            self._leave_unpriced(call, str(exc))
            return
        call.cost, call.cost_details = total, details
        call.price_source, call.price_version, call.unpriced = quote.card.source, quote.card.version, False

    def quote_for(self, provider: str, server_address: str, response_model: str, request_model: str,
                  service_tier: str, at_ns: int) -> Quote:
        """The price in force for such a call at `at_ns` (cached, see the module docstring)."""
        key = (provider, server_address, response_model, request_model, service_tier)
        schedule = self._schedules.get(key)
        if schedule is None:
            if len(self._schedules) >= _MAX_CACHED_KEYS:
                self._schedules.clear()
                self.catalog.forget_lookups()
            schedule = self._schedules[key] = _Schedule()
        quote = schedule.find(at_ns)
        if quote is None:
            quote = self._resolve(provider, server_address, response_model, request_model, service_tier, at_ns)
            schedule.remember(quote)
        return quote

    # -- the slow path -----------------------------------------------------------

    def _resolve(self, provider: str, server_address: str, response_model: str, request_model: str,
                 service_tier: str, at_ns: int) -> Quote:
        model_names = tuple(dict.fromkeys(name for name in (response_model, request_model) if name))
        if not model_names:
            return Quote(None, "the span names no model")
        tier = normalize_tier(service_tier)
        book = self.price_book
        catalog_provider = self.catalog.provider_id(provider, server_address) or ""
        provider_names = frozenset(name for name in (provider.strip().lower(), catalog_provider) if name)

        valid_from, valid_until = EARLIEST, LATEST
        if book is not None:
            entries = book.fitting_entries(provider_names, model_names)
            valid_from, valid_until = _narrow(valid_from, valid_until, at_ns, [e.effective_from_ns for e in entries])
            entry = book.entry_at(entries, model_names, at_ns)
            if entry is not None:
                return Quote(*_book_card(entry, tier), valid_from, valid_until)

        found = self.catalog.find(provider, server_address, model_names)
        if found is None:
            where = f" (provider {provider!r})" if provider else ""
            return Quote(None, f"no price for model {model_names[0]!r}{where} in the price book or the catalog",
                         valid_from, valid_until)
        rules: list[DiscountRule] = []
        if book is not None:
            rules = book.fitting_discounts(provider_names | {found.provider.id}, model_names + (found.model.id,))
            valid_from, valid_until = _narrow(valid_from, valid_until, at_ns, [r.effective_from_ns for r in rules])
        quote = self.catalog_quote(found, tier, at_ns, rules)
        return Quote(quote.card, quote.reason, max(valid_from, quote.valid_from_ns),
                     min(valid_until, quote.valid_until_ns))

    def catalog_quote(self, found: CatalogModel, tier: str, at_ns: int, discounts: list[DiscountRule]) -> Quote:
        """The catalog's price for `found`, less the discount in force among `discounts`."""
        catalog_quote = self.catalog.quote(found, at_ns, tier)
        card = catalog_quote.card
        book = self.price_book
        rule = book.discount_at(discounts, at_ns) if book is not None and card is not None else None
        if rule is not None:
            card = card.scaled(rule.factor, source="price_book",
                               version=f"{book.discount_version(rule)} on {card.version}",
                               note=f"{rule.percent_off}% off the catalog price")
        return Quote(card, catalog_quote.reason, catalog_quote.valid_from_ns, catalog_quote.valid_until_ns)

    def _leave_unpriced(self, call: LlmCall, reason: str) -> None:
        call.cost, call.cost_details = None, {}
        call.price_source, call.price_version, call.unpriced = "", "", True
        key = (call.provider, call.model)
        if key not in self.unpriced_counts and self.warn_unpriced:
            log.warning("LLM calls to %s model %r are stored unpriced: %s", call.provider or "an unknown provider",
                        call.model, reason)
        self.unpriced_counts[key] += 1
        self.unpriced_reasons[key] = reason


def _narrow(valid_from: int, valid_until: int, at_ns: int, instants: list[int]) -> tuple[int, int]:
    """Shrink [valid_from, valid_until) around `at_ns` so that no instant where the book's choice changes is inside."""
    for instant in instants:
        if instant <= at_ns:
            valid_from = max(valid_from, instant)
        else:
            valid_until = min(valid_until, instant)
    return valid_from, valid_until


def _book_card(entry: ModelEntry, tier: str) -> tuple[RateCard | None, str]:
    if not tier:
        return entry.card, ""
    multiplier = entry.tier_multipliers.get(tier)
    if multiplier is None:
        return None, f"price book entry {entry.selector.match!r} (line {entry.line}) has no {tier!r} service tier"
    card = entry.card.scaled(multiplier, source="price_book", version=f"{entry.card.version} {tier} x{multiplier}",
                             note=f"{tier} tier: x{multiplier}")
    return card, ""


# A tool's estimate agrees with ours when within this share of the larger amount (its
# float arithmetic and rounding), or within the absolute floor for tiny amounts.
AGREEMENT_SHARE = Decimal("0.0001")
AGREEMENT_FLOOR = Decimal("0.000000001")


def disagrees(reported: Decimal | None, cost: Decimal | None) -> bool:
    """Whether a tool's estimate and our cost differ beyond rounding (False when either is missing)."""
    if reported is None or cost is None:
        return False
    return abs(reported - cost) > max(AGREEMENT_FLOOR, AGREEMENT_SHARE * max(abs(reported), abs(cost)))


def _usable_billed_cost(call: LlmCall) -> bool:
    cost = call.billed_cost
    if cost is None:
        return False
    if not isinstance(cost, Decimal) or not cost.is_finite() or cost < 0:
        log.warning("ignoring an unusable billed cost %r for %s %r", cost, call.provider, call.model)
        return False
    return True


def _has_tokens(call: LlmCall) -> bool:
    return bool(call.input_tokens or call.output_tokens or call.cache_read_tokens or call.cache_write_tokens)
