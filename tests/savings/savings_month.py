"""A known synthetic month of LLM calls that caching and routing touched, and the savings
worked out independently of the processor: from the published prices below (USD per 1M
tokens), by the providers' own billing rules.

Each call comes as the span attributes the instrumentation writes and the token counts;
the test prices it through the processor and compares with `expected_*` here.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

MONTH_START = datetime(2025, 3, 1, tzinfo=timezone.utc)
MONTH_END = datetime(2025, 4, 1, tzinfo=timezone.utc)
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Prices:
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None


PRICES = {
    "gpt-4o-mini": Prices(Decimal("0.15"), Decimal("0.60"), Decimal("0.075")),
    "gpt-4o": Prices(Decimal("2.50"), Decimal("10"), Decimal("1.25")),
    "gpt-4.1": Prices(Decimal("2.00"), Decimal("8.00"), Decimal("0.50")),
    "gpt-4.1-mini": Prices(Decimal("0.40"), Decimal("1.60"), Decimal("0.10")),
    "claude-sonnet-4": Prices(Decimal("3.00"), Decimal("15"), Decimal("0.30"), Decimal("3.75")),
    "claude-3-5-haiku": Prices(Decimal("0.80"), Decimal("4.00"), Decimal("0.08"), Decimal("1.00")),
}
PROVIDERS = {"gpt": "openai", "claude": "anthropic"}


@dataclass(frozen=True)
class MonthCall:
    n: int
    at: datetime
    app: str
    feature: str
    model: str  # the model that served it (or whose answer a hit replayed)
    input_tokens: int
    output_tokens: int
    cache_read: int = 0
    cache_write: int = 0
    cache_kind: str = ""  # exact | semantic
    requested_model: str = ""  # set for routed calls
    routing_kind: str = ""  # rule | budget | fallback

    @property
    def provider(self) -> str:
        return PROVIDERS[self.model.split("-")[0]]

    def attributes(self) -> dict[str, str]:
        found: dict[str, str] = {}
        if self.cache_kind:
            found |= {"llmledger.cache.hit": "true", "llmledger.cache.kind": self.cache_kind,
                      "llmledger.cache.source_trace_id": f"{self.n + 1:032x}",
                      "llmledger.cache.source_span_id": f"{self.n + 1:016x}"}
        if self.requested_model:
            found |= {"llmledger.routing.requested_model": self.requested_model,
                      "llmledger.routing.kind": self.routing_kind, "llmledger.routing.reason": "test"}
        return found


def cost(model: str, call: MonthCall) -> Decimal:
    """The call's tokens on `model`: plain input, cache reads, cache writes and output at their rates."""
    p = PRICES[model]
    plain = call.input_tokens - call.cache_read - call.cache_write
    amount = plain * p.input + call.output_tokens * p.output
    amount += call.cache_read * (p.cache_read if p.cache_read is not None else p.input)
    amount += call.cache_write * (p.cache_write if p.cache_write is not None else p.input)
    return amount / MILLION


def saving(call: MonthCall) -> tuple[str, Decimal] | None:
    """(strategy, saved) of the call's own strategy."""
    if call.cache_kind:
        return f"{call.cache_kind}_cache", cost(call.model, call)
    if call.requested_model:
        strategy = "fallback" if call.routing_kind == "fallback" else "routing"
        return strategy, cost(call.requested_model, call) - cost(call.model, call)
    return None


def prompt_cache_saving(call: MonthCall) -> Decimal | None:
    """Cache reads and writes at the plain input rate minus their own rates (None: no cache tokens)."""
    if call.cache_kind or not (call.cache_read or call.cache_write):
        return None
    p = PRICES[call.model]
    saved = Decimal(0)
    if p.cache_read is not None:
        saved += call.cache_read * (p.input - p.cache_read)
    if p.cache_write is not None:
        saved += call.cache_write * (p.input - p.cache_write)
    return saved / MILLION


# (app, feature, model, calls a day, what happens to the calls)
TRAFFIC = (
    ("support-bot", "faq", "gpt-4o-mini", 60, "exact"),  # a third answered by the exact cache
    ("support-bot", "chat", "claude-3-5-haiku", 30, "semantic"),  # a fifth by the semantic cache
    ("research", "summarize", "gpt-4.1-mini", 20, "routed:gpt-4.1"),  # every call routed down from gpt-4.1
    ("research", "deep-dive", "gpt-4o", 4, "fallback:gpt-4o-mini"),  # gpt-4o-mini refused: fell back, dearer
    ("code-review", "review", "claude-sonnet-4", 15, "prompt-cache"),  # provider prompt caching only
    ("lab", "budget-capped", "gpt-4o-mini", 10, "budget:gpt-4o"),  # a budget degraded gpt-4o
)


def generate(seed: int = 13) -> list[MonthCall]:
    rng = random.Random(seed)
    calls: list[MonthCall] = []
    day = MONTH_START
    while day < MONTH_END:
        for app, feature, model, per_day, what in TRAFFIC:
            for _ in range(per_day):
                calls.append(_call(rng, len(calls) * 2, day + timedelta(seconds=rng.randrange(86_400)), app,
                                   feature, model, what))
        day += timedelta(days=1)
    return calls


def _call(rng: random.Random, n: int, at: datetime, app: str, feature: str, model: str, what: str) -> MonthCall:
    input_tokens, output_tokens = rng.randint(300, 6000), rng.randint(20, 900)
    cache_read = cache_write = 0
    if rng.random() < 0.4:
        cache_read = 128 * rng.randint(1, input_tokens // 2 // 128 or 1)
    if model.startswith("claude") and rng.random() < 0.25:
        cache_write = min(rng.randint(100, 1500), input_tokens - cache_read)
    extra: dict = {}
    kind, _, target = what.partition(":")
    if kind == "exact" and rng.random() < 1 / 3:
        extra = {"cache_kind": "exact"}
    elif kind == "semantic" and rng.random() < 0.2:
        extra = {"cache_kind": "semantic"}
    elif kind == "routed":
        extra = {"requested_model": target, "routing_kind": "rule"}
    elif kind == "fallback":
        extra = {"requested_model": target, "routing_kind": "fallback"}
    elif kind == "budget":
        extra = {"requested_model": target, "routing_kind": "budget"}
    return MonthCall(n, at, app, feature, model, input_tokens, output_tokens, cache_read, cache_write, **extra)


def expected_by(calls: list[MonthCall], key) -> dict[str, Decimal]:
    """Net savings per key(call, strategy) over every strategy that applied."""
    totals: dict[str, Decimal] = {}
    for call in calls:
        for found in (saving(call), ("prompt_cache", prompt_cache_saving(call))):
            if found is None or found[1] is None:
                continue
            name = key(call, found[0])
            totals[name] = totals.get(name, Decimal(0)) + found[1]
    return totals


def expected_cost(calls: list[MonthCall], key) -> dict[str, Decimal]:
    """What the calls cost (hits nothing), per key(call)."""
    totals: dict[str, Decimal] = {}
    for call in calls:
        totals[key(call)] = totals.get(key(call), Decimal(0)) + (0 if call.cache_kind else cost(call.model, call))
    return totals
