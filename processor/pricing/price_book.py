"""The price book: the user's own prices, in a YAML file they own.

For custom, fine-tuned and self-hosted models, and for negotiated discounts on the
catalog's prices. The format is documented (with examples) at the top of
deploy/price-book.example.yaml. In short:

    version: 1
    models:                       # first matching model wins, see `PriceBook.entry_at`
      - match: "ft:gpt-4o-mini-2024-07-18:acme:*"   # exact model name or glob
        provider: openai          # optional
        effective_from: 2025-01-01                 # optional; several entries = history
        prices: {input: 0.30, cache_read: 0.15, output: 1.20}   # USD per 1M tokens
        long_context: {above_input_tokens: 200000, prices: {input: 0.60, output: 2.40}}
        service_tiers: {batch: 0.5}                 # multipliers
      - match: llama-3.3-70b-onprem
        gpu_amortization: {gpu_hour_cost: 2.40, tokens_per_gpu_hour: 3000000, utilization: 0.6}
    discounts:                    # applied to catalog prices
      - {provider: openai, percent_off: 15, effective_from: 2025-01-01}
"""
from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import yaml

from .catalog import EARLIEST, ns_from_datetime
from .providers import BOOK_TIERS
from .rates import MONEY, Rate, RateCard
from .yaml_reader import PriceBookError, YamlReader

FORMAT_VERSION = 1
TOP_KEYS = ("version", "models", "discounts")
ENTRY_KEYS = ("match", "provider", "effective_from", "prices", "long_context", "service_tiers",
              "gpu_amortization", "note")
PRICE_KEYS = ("input", "cache_read", "cache_write", "output", "reasoning", "request")
LONG_CONTEXT_KEYS = ("above_input_tokens", "prices")
GPU_KEYS = ("gpu_hour_cost", "tokens_per_gpu_hour", "utilization")
DISCOUNT_KEYS = ("provider", "match", "percent_off", "effective_from", "note")

# A GPU-hour amortized price per 1M tokens is rounded to 6 places: 12 per token, the
# store's scale, so every cost derived from it stays exact.
AMORTIZED_PLACES = Decimal("1e-6")
_ONE_MILLION = Decimal(1_000_000)
_HUNDRED = Decimal(100)


def _compile_glob(pattern: str) -> re.Pattern[str] | None:
    """A case-insensitive matcher for a glob, or None for a plain name."""
    if not any(char in pattern for char in "*?["):
        return None
    return re.compile(fnmatch.translate(pattern.lower()))


def _glob_problem(pattern: str) -> str | None:
    """Why a pattern is not a usable glob (fnmatch itself would silently read it literally)."""
    depth_open = None
    for position, char in enumerate(pattern):
        if char == "[" and depth_open is None:
            depth_open = position
        elif char == "]" and depth_open is not None:
            if position == depth_open + 1 or (position == depth_open + 2 and pattern[depth_open + 1] == "!"):
                return "empty character class '[]'"
            depth_open = None
    if depth_open is not None:
        return f"unclosed '[' at position {depth_open + 1}"
    if pattern != pattern.strip():
        return "leading or trailing spaces"
    return None


@dataclass(frozen=True)
class _Selector:
    """Which calls an entry or rule applies to: a model name pattern and an optional provider."""

    match: str
    provider: str  # "" = any provider
    glob: re.Pattern[str] | None = field(compare=False)

    def fits(self, provider_names: frozenset[str], model_names: tuple[str, ...]) -> bool:
        if self.provider and self.provider not in provider_names:
            return False
        return any(self.matches(name) for name in model_names)

    def matches(self, model_name: str) -> bool:
        name = model_name.lower()
        return self.glob.fullmatch(name) is not None if self.glob else name == self.match.lower()


@dataclass(frozen=True)
class ModelEntry:
    """One price of a model from a date on."""

    selector: _Selector
    effective_from: datetime | None
    effective_from_text: str  # as written in the file, for the price version
    card: RateCard
    tier_multipliers: dict[str, Decimal]
    note: str
    line: int

    @property
    def effective_from_ns(self) -> int:
        return EARLIEST if self.effective_from is None else ns_from_datetime(self.effective_from)


@dataclass(frozen=True)
class DiscountRule:
    """A percentage off the catalog price, from a date on."""

    selector: _Selector
    percent_off: Decimal
    effective_from: datetime | None
    effective_from_text: str
    note: str
    line: int

    @property
    def effective_from_ns(self) -> int:
        return EARLIEST if self.effective_from is None else ns_from_datetime(self.effective_from)

    @property
    def factor(self) -> Decimal:
        return MONEY.divide(_HUNDRED - self.percent_off, _HUNDRED)


class PriceBook:
    """The parsed, validated price book. Build it with `load` or `from_text`."""

    def __init__(self, source_name: str, digest: str, models: tuple[ModelEntry, ...],
                 discounts: tuple[DiscountRule, ...]):
        self.source_name = source_name
        self.digest = digest  # first 12 hex digits of the file's sha256
        self.models = models
        self.discounts = discounts

    @classmethod
    def load(cls, path: str | Path) -> PriceBook:
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise PriceBookError(f"{path}: cannot read the price book: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PriceBookError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        return cls._parse(text, str(path), raw)

    @classmethod
    def from_text(cls, text: str, source_name: str = "price-book.yaml") -> PriceBook:
        return cls._parse(text, source_name, text.encode("utf-8"))

    @classmethod
    def _parse(cls, text: str, source_name: str, raw: bytes) -> PriceBook:
        digest = hashlib.sha256(raw).hexdigest()[:12]
        parser = _Parser(YamlReader(text, source_name), digest)
        models, discounts = parser.parse()
        return cls(source_name, digest, models, discounts)

    # -- lookups -----------------------------------------------------------------

    def fitting_entries(self, provider_names: frozenset[str], model_names: tuple[str, ...]) -> list[ModelEntry]:
        return [entry for entry in self.models if entry.selector.fits(provider_names, model_names)]

    def fitting_discounts(self, provider_names: frozenset[str], model_names: tuple[str, ...]) -> list[DiscountRule]:
        return [rule for rule in self.discounts if rule.selector.fits(provider_names, model_names)]

    @staticmethod
    def entry_at(entries: list[ModelEntry], model_names: tuple[str, ...], at_ns: int) -> ModelEntry | None:
        """The entry pricing a call at `at_ns`.

        Model names are tried in order (the response model, then the request model).
        For a name, entries are grouped by (match, provider); exact names come before
        globs, otherwise file order. The first group with an entry in force wins, and
        in it the entry with the latest `effective_from` <= the call's time."""
        for name in model_names:
            matching = [entry for entry in entries if entry.selector.matches(name)]
            matching.sort(key=lambda entry: entry.selector.glob is not None)  # stable: file order kept
            seen: list[_Selector] = []
            for entry in matching:
                if entry.selector in seen:
                    continue
                seen.append(entry.selector)
                in_force = [e for e in matching if e.selector == entry.selector and e.effective_from_ns <= at_ns]
                if in_force:
                    return max(in_force, key=lambda e: e.effective_from_ns)
        return None

    @staticmethod
    def discount_at(rules: list[DiscountRule], at_ns: int) -> DiscountRule | None:
        """The discount in force: the latest `effective_from` <= the call's time (file order breaks ties)."""
        best: DiscountRule | None = None
        for rule in rules:
            if rule.effective_from_ns <= at_ns and (best is None or rule.effective_from_ns > best.effective_from_ns):
                best = rule
        return best

    def discount_version(self, rule: DiscountRule) -> str:
        provider = f" {rule.selector.provider}" if rule.selector.provider else ""
        return (f"price-book {self.digest} discount{provider} {rule.selector.match} "
                f"{rule.effective_from_text} -{rule.percent_off}%")


class _Parser:
    """Turns the YAML nodes into entries and rules, checking everything on the way."""

    def __init__(self, reader: YamlReader, digest: str):
        self.reader = reader
        self.digest = digest

    def parse(self) -> tuple[tuple[ModelEntry, ...], tuple[DiscountRule, ...]]:
        root = self.reader.root
        if root is None or (isinstance(root, yaml.ScalarNode) and root.tag.endswith(":null")):
            return (), ()
        top = self.reader.mapping(root, "", allowed=TOP_KEYS)
        if "version" in top:
            version = self.reader.integer(top["version"], "version")
            if version != FORMAT_VERSION:
                self.reader.fail(top["version"], "version",
                                 f"unsupported format version {version} (this release reads {FORMAT_VERSION})")
        model_nodes = self.reader.sequence(top["models"], "models") if "models" in top else []
        discount_nodes = self.reader.sequence(top["discounts"], "discounts") if "discounts" in top else []
        models = tuple(self._model(node, f"models[{index}]") for index, node in enumerate(model_nodes))
        discounts = tuple(self._discount(node, f"discounts[{index}]") for index, node in enumerate(discount_nodes))
        self._no_duplicates(models, "models")
        self._no_duplicates(discounts, "discounts")
        return models, discounts

    def _selector(self, values: dict[str, yaml.Node], path: str, *, default_match: str | None = None) -> _Selector:
        if "match" in values:
            match = self.reader.text(values["match"], f"{path}.match")
            problem = _glob_problem(match)
            if problem:
                self.reader.fail(values["match"], f"{path}.match", f"bad pattern {match!r}: {problem}")
        else:
            match = default_match or ""
        provider = ""
        if "provider" in values:
            provider = self.reader.text(values["provider"], f"{path}.provider").strip().lower()
        return _Selector(match, provider, _compile_glob(match))

    def _effective_from(self, values: dict[str, yaml.Node], path: str) -> tuple[datetime | None, str]:
        if "effective_from" not in values:
            return None, "always"
        node = values["effective_from"]
        return self.reader.moment(node, f"{path}.effective_from"), node.value.strip()

    def _model(self, node: yaml.Node, path: str) -> ModelEntry:
        values = self.reader.mapping(node, path, allowed=ENTRY_KEYS, required=("match",))
        selector = self._selector(values, path)
        effective_from, effective_text = self._effective_from(values, path)
        has_prices, has_gpu = "prices" in values, "gpu_amortization" in values
        if has_prices == has_gpu:
            self.reader.fail(node, path, "give exactly one of 'prices' or 'gpu_amortization'")
        version = f"price-book {self.digest} {selector.match} {effective_text}"
        if selector.provider:
            version += f" provider={selector.provider}"
        if has_prices:
            rates, request = self._prices(values["prices"], f"{path}.prices")
        else:
            amortized = self._gpu_amortization(values["gpu_amortization"], f"{path}.gpu_amortization")
            rates, request = {"input": amortized, "output": amortized}, None
        if "long_context" in values:
            rates = self._long_context(values["long_context"], f"{path}.long_context", rates)
        tiers: dict[str, Decimal] = {}
        if "service_tiers" in values:
            tier_path = f"{path}.service_tiers"
            for tier, tier_node in self.reader.mapping(values["service_tiers"], tier_path, allowed=BOOK_TIERS).items():
                tiers[tier] = self.reader.decimal(tier_node, f"{tier_path}.{tier}")
        card = RateCard(
            source="price_book",
            version=version,
            provider=selector.provider,
            model=selector.match,
            request=request,
            **rates,
        )
        note = self.reader.text(values["note"], f"{path}.note") if "note" in values else ""
        return ModelEntry(selector, effective_from, effective_text, card, tiers, note, self.reader.line(node))

    def _prices(self, node: yaml.Node, path: str) -> tuple[dict[str, Rate], Decimal | None]:
        values = self.reader.mapping(node, path, allowed=PRICE_KEYS, required=("input",))
        rates = {key: Rate(self.reader.decimal(value, f"{path}.{key}"))
                 for key, value in values.items() if key != "request"}
        request = self.reader.decimal(values["request"], f"{path}.request") if "request" in values else None
        return rates, request

    def _long_context(self, node: yaml.Node, path: str, rates: dict[str, Rate]) -> dict[str, Rate]:
        values = self.reader.mapping(node, path, allowed=LONG_CONTEXT_KEYS, required=LONG_CONTEXT_KEYS)
        above = self.reader.integer(values["above_input_tokens"], f"{path}.above_input_tokens", minimum=1)
        prices_path = f"{path}.prices"
        token_keys = tuple(key for key in PRICE_KEYS if key != "request")
        result = dict(rates)
        for key, price_node in self.reader.mapping(values["prices"], prices_path, allowed=token_keys).items():
            if key not in rates:
                self.reader.fail(price_node, f"{prices_path}.{key}",
                                 f"has no standard price to step up from (add prices.{key})")
            long_price = self.reader.decimal(price_node, f"{prices_path}.{key}")
            result[key] = Rate(rates[key].base, ((above, long_price),))
        return result

    def _gpu_amortization(self, node: yaml.Node, path: str) -> Rate:
        """Price per 1M tokens = gpu_hour_cost x 1,000,000 / (tokens_per_gpu_hour x utilization)."""
        values = self.reader.mapping(node, path, allowed=GPU_KEYS, required=("gpu_hour_cost", "tokens_per_gpu_hour"))
        cost = self.reader.decimal(values["gpu_hour_cost"], f"{path}.gpu_hour_cost")
        tokens = self.reader.integer(values["tokens_per_gpu_hour"], f"{path}.tokens_per_gpu_hour", minimum=1)
        utilization = Decimal(1)
        if "utilization" in values:
            utilization = self.reader.decimal(values["utilization"], f"{path}.utilization",
                                              above_minimum=True, maximum=Decimal(1))
        per_million = MONEY.divide(MONEY.multiply(cost, _ONE_MILLION), MONEY.multiply(Decimal(tokens), utilization))
        return Rate(per_million.quantize(AMORTIZED_PLACES, rounding=ROUND_HALF_EVEN, context=MONEY))

    def _discount(self, node: yaml.Node, path: str) -> DiscountRule:
        values = self.reader.mapping(node, path, allowed=DISCOUNT_KEYS, required=("percent_off",))
        if "provider" not in values and "match" not in values:
            self.reader.fail(node, path, "a discount needs a 'provider', a 'match' or both")
        selector = self._selector(values, path, default_match="*")
        percent = self.reader.decimal(values["percent_off"], f"{path}.percent_off", maximum=_HUNDRED)
        effective_from, effective_text = self._effective_from(values, path)
        note = self.reader.text(values["note"], f"{path}.note") if "note" in values else ""
        return DiscountRule(selector, percent, effective_from, effective_text, note, self.reader.line(node))

    def _no_duplicates(self, items: tuple[ModelEntry, ...] | tuple[DiscountRule, ...], section: str) -> None:
        """Two prices for the same selector from the same moment would be ambiguous."""
        seen: dict[tuple[_Selector, int], int] = {}
        for item in items:
            key = (item.selector, item.effective_from_ns)
            if key in seen:
                raise PriceBookError(
                    f"{self.reader.source_name}:{item.line}: {section}: same match {item.selector.match!r}"
                    f"{' and provider ' + repr(item.selector.provider) if item.selector.provider else ''}"
                    f" and effective_from ({item.effective_from_text}) as the entry on line {seen[key]}")
            seen[key] = item.line
