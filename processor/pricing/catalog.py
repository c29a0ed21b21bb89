"""The bundled price catalog: the `genai-prices` package's own data snapshot.

Only the data that ships inside the pinned package is read. Its update machinery
(which downloads newer prices) is never used: a price change is a deliberate
upgrade of the pin, so every row's `price_version` names the snapshot that priced it.

What is taken from a catalog price: input, cache read, cache write (the 5-minute
rate; spans do not say which cache lifetime was written), output, reasoning output
and per-request prices, with their long-context tiers. Prices by modality (audio,
image) and per tool use (web searches) are not applied: spans carry no such counts.

Service tiers: the catalog keeps tier prices as variants selected by a request
context (`{"processing": "batch"}`, `{"service_tier": "flex" | "priority" | ...}`),
each valid from a date. Where it has no price for a call's tier at the call's time:
- OpenAI batch and flex are priced by OpenAI's published rule, half the standard
  price: input and output halved; for flex the cached-input rate too, for batch it
  stays standard (OpenAI's batch table lists no cached rate; the catalog's own batch
  prices do the same). The version then says "half-price rule".
- anything else stays unpriced: guessing a tier price would be a silent error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from importlib.metadata import version as package_version
from typing import Iterator

from genai_prices import data as catalog_data
from genai_prices import types as catalog_types
from genai_prices.data_snapshot import DataSnapshot, find_provider_by_id

from .model_ids import bedrock_names
from .providers import CATALOG_PROVIDER_IDS, SELF_HOSTED_PROVIDERS
from .rates import Rate, RateCard

CATALOG_PACKAGE = "genai-prices"
CATALOG_VERSION = f"{CATALOG_PACKAGE} {package_version(CATALOG_PACKAGE)}"

# Interval bounds (ns since the epoch) for "since/until forever".
EARLIEST = -(2**63)
LATEST = 2**63

HALF = Decimal("0.5")
HALF_PRICE_RULE_TIERS = ("batch", "flex")

# Suffixes that only name a snapshot of a model: "-2024-07-18", "-20241022", "@20250514".
_DATE_SUFFIX = re.compile(r"(?:[-@](?:20\d\d-\d\d-\d\d|20\d{6}))$")


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """A catalog model, as reached through the provider a call went to."""

    provider: catalog_types.Provider
    model: catalog_types.ModelInfo

    @property
    def label(self) -> str:
        return f"{self.provider.id}/{self.model.id}"

    @property
    def is_own(self) -> bool:
        """False when the provider serves another provider's model (Azure serving OpenAI's):
        the catalog then has no tier variants for it."""
        return any(self.model is own for own in self.provider.models)


@dataclass(frozen=True, slots=True)
class CatalogQuote:
    """The catalog's answer for one model, tier and moment: a rate card or why there is none,
    and the interval [valid_from_ns, valid_until_ns) over which that answer holds."""

    card: RateCard | None
    reason: str
    valid_from_ns: int
    valid_until_ns: int


class Catalog:
    """Model lookup and price selection over the bundled snapshot."""

    def __init__(self, providers: list[catalog_types.Provider] | None = None):
        self.providers = catalog_data.providers if providers is None else providers
        self.version = CATALOG_VERSION
        self.forget_lookups()

    def forget_lookups(self) -> None:
        """Drop the snapshot's memo of model lookups (it keeps one per distinct model name)."""
        self._snapshot = DataSnapshot(providers=self.providers, from_auto_update=False)

    # -- which provider and model ------------------------------------------------

    def provider_id(self, provider: str, server_address: str = "") -> str | None:
        """The catalog provider a call went to, or None when neither its host nor its
        provider name says; "" for a self-hosted inference server (no catalog price)."""
        name = provider.strip().lower()
        if name in SELF_HOSTED_PROVIDERS:
            return ""
        if server_address:
            url = f"https://{server_address.strip().lower()}"
            for candidate in self.providers:
                if re.match(candidate.api_pattern, url):
                    return candidate.id
        if not name:
            return None
        if name in CATALOG_PROVIDER_IDS:
            return CATALOG_PROVIDER_IDS[name]
        found = find_provider_by_id(self.providers, name)
        return found.id if found else None

    def find(self, provider: str, server_address: str, model_names: tuple[str, ...]) -> CatalogModel | None:
        """The catalog model for a call; None when the catalog does not know it.

        The provider is taken from the host called, else from the provider name; only
        when neither is known is the model looked up by its name alone."""
        provider_id = self.provider_id(provider, server_address)
        if provider_id == "":
            return None
        for name in _name_variants(model_names, provider_id):
            try:
                found_provider, found_model = self._snapshot.find_provider_model(name, None, provider_id, None)
            except LookupError:
                continue
            return CatalogModel(found_provider, found_model)
        return None

    # -- which price ---------------------------------------------------------------

    def quote(self, found: CatalogModel, at_ns: int, tier: str) -> CatalogQuote:
        """The price in force for `found` at `at_ns` for service tier `tier` ("" = standard)."""
        at = datetime_from_ns(at_ns)
        valid_from, valid_until = _validity(found.model, at, at_ns)
        standard = _card_from(found.model.get_prices(at), found, CATALOG_VERSION + " " + found.label)
        if not tier:
            card, reason = standard, ""
        elif found.is_own and _has_tier_variant(found.model, at, tier):
            prices = found.model.get_prices(at, _tier_context(tier))
            card, reason = _card_from(prices, found, f"{CATALOG_VERSION} {found.label} {tier}"), ""
        elif found.provider.id == "openai" and tier in HALF_PRICE_RULE_TIERS and standard is not None:
            card, reason = _half_price(standard, tier), ""
        else:
            card, reason = None, f"the catalog has no {tier!r} tier price for {found.label}"
        if card is None and not reason:
            reason = f"the catalog has no token prices for {found.label}"
        return CatalogQuote(card, reason, valid_from, valid_until)

    def iter_models(self) -> Iterator[CatalogModel]:
        """Every model each provider lists as its own."""
        for provider in self.providers:
            for model in provider.models:
                yield CatalogModel(provider, model)


@cache
def bundled_catalog() -> Catalog:
    """The one catalog a process needs (its model lookups are cached inside)."""
    return Catalog()


def datetime_from_ns(ns: int) -> datetime:
    """An aware UTC datetime from ns since the epoch, without a float in between."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def ns_from_datetime(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _name_variants(model_names: tuple[str, ...], provider_id: str | None = None) -> list[str]:
    """Names to try, in order: each as given, without a "models/" prefix, without a date suffix;
    for AWS Bedrock also the model id an ARN or a geographic inference profile stands for."""
    if provider_id == "aws":
        model_names = tuple(variant for name in model_names if name for variant in bedrock_names(name))
    variants: list[str] = []
    for name in model_names:
        if not name:
            continue
        bare = name.removeprefix("models/")
        for variant in (name, bare, _DATE_SUFFIX.sub("", bare)):
            if variant and variant not in variants:
                variants.append(variant)
    return variants


def _tier_context(tier: str) -> dict[str, str]:
    return {"processing": "batch"} if tier == "batch" else {"service_tier": tier}


def _has_tier_variant(model: catalog_types.ModelInfo, at: datetime, tier: str) -> bool:
    context = _tier_context(tier)
    return any(
        variant.when == context and (variant.constraint is None or variant.constraint.active(at))
        for variant in model.price_variants or ()
    )


def _validity(model: catalog_types.ModelInfo, at: datetime, at_ns: int) -> tuple[int, int]:
    """The interval around `at` over which no price constraint of `model` changes state.

    Date constraints switch at UTC midnight (as the catalog evaluates them); time-of-day
    constraints (DeepSeek's off-peak hours) switch twice a day, so a day is not a safe
    cache key: the boundaries on the day before, the day of and the day after bracket `at`."""
    constraints = []
    if isinstance(model.prices, list):
        constraints += [price.constraint for price in model.prices if price.constraint]
    constraints += [variant.constraint for variant in model.price_variants or () if variant.constraint]
    boundaries: set[int] = set()
    for constraint in constraints:
        if isinstance(constraint, catalog_types.StartDateConstraint):
            boundaries.add(ns_from_datetime(datetime.combine(constraint.start_date, time(0), UTC)))
        elif isinstance(constraint, catalog_types.TimeOfDateConstraint):
            day = at.date()
            for offset in (-1, 0, 1):
                for moment in (constraint.start_time, constraint.end_time):
                    boundaries.add(ns_from_datetime(_on_day(day + timedelta(days=offset), moment)))
    valid_from = max((b for b in boundaries if b <= at_ns), default=EARLIEST)
    valid_until = min((b for b in boundaries if b > at_ns), default=LATEST)
    return valid_from, valid_until


def _on_day(day: date, moment: time) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return datetime.combine(day, moment)


def _card_from(prices: catalog_types.ModelPrice, found: CatalogModel, version: str) -> RateCard | None:
    def rate(price_key: str) -> Rate | None:
        value = getattr(prices, price_key, None)
        if value is None:
            return None
        if isinstance(value, catalog_types.TieredPrices):
            return Rate(value.base, tuple((tier.start, tier.price) for tier in value.tiers))
        return Rate(value)

    per_thousand_requests = getattr(prices, "requests_kcount", None)
    card = RateCard(
        source="catalog",
        version=version,
        provider=found.provider.id,
        model=found.model.id,
        input=rate("input_mtok"),
        cache_read=rate("cache_read_mtok"),
        cache_write=rate("cache_write_mtok") or rate("cache_write_5m_mtok"),
        output=rate("output_mtok"),
        reasoning=rate("output_reasoning_mtok"),
        request=None if per_thousand_requests is None else per_thousand_requests.scaleb(-3),
    )
    if card.input is None and card.output is None and card.request is None:
        return None
    return card


def _half_price(standard: RateCard, tier: str) -> RateCard:
    def half(rate: Rate | None) -> Rate | None:
        return None if rate is None else rate.scaled(HALF)

    return replace(
        standard,
        version=f"{standard.version} {tier} half-price rule",
        input=half(standard.input),
        output=half(standard.output),
        reasoning=half(standard.reasoning),
        cache_read=half(standard.cache_read) if tier == "flex" else standard.cache_read,
        notes=standard.notes + (f"OpenAI {tier}: half the standard price (no {tier} price in the catalog)",),
    )
