"""A known synthetic month of LLM calls, and the anomalies that can be injected into it.

Costs are worked out here from the providers' published prices (USD per 1M tokens),
independently of the processor's pricing code, the way its rate cards split them:
plain input, cache reads, cache writes and output each at their own rate.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from llmledger.processor.exporters.clickhouse import ClickHouseWriter, llm_span_row
from llmledger.processor.record import LlmCall

MONTH_START = datetime(2025, 3, 1, tzinfo=timezone.utc)
MONTH_END = datetime(2025, 4, 1, tzinfo=timezone.utc)
# The last week of the month is where anomalies are looked for (and injected).
WINDOW_START = datetime(2025, 3, 25, tzinfo=timezone.utc)

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Prices:
    """Published USD prices per 1M tokens (None: not charged apart, billed as input)."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None


PRICES = {
    "gpt-4o-mini": Prices(Decimal("0.15"), Decimal("0.60"), cache_read=Decimal("0.075")),
    "gpt-4.1": Prices(Decimal("2.00"), Decimal("8.00"), cache_read=Decimal("0.50")),
    "gpt-4.1-mini": Prices(Decimal("0.40"), Decimal("1.60"), cache_read=Decimal("0.10")),
    "o4-mini": Prices(Decimal("1.10"), Decimal("4.40"), cache_read=Decimal("0.275")),
    "text-embedding-3-small": Prices(Decimal("0.02"), Decimal(0)),
    "claude-sonnet-4": Prices(Decimal("3.00"), Decimal("15"), cache_read=Decimal("0.30"),
                              cache_write=Decimal("3.75")),
    "claude-3-5-haiku": Prices(Decimal("0.80"), Decimal("4.00"), cache_read=Decimal("0.08"),
                               cache_write=Decimal("1.00")),
}


@dataclass(frozen=True)
class Stream:
    """One kind of traffic: who calls which model, how often and how big."""

    app: str
    environment: str
    team: str
    feature: str
    provider: str
    model: str
    calls_per_hour: float
    input_tokens: tuple[int, int]
    output_tokens: tuple[int, int]
    cache_share: float = 0.0  # share of calls that read from the prompt cache
    writes_cache: bool = False
    reasoning: bool = False


STREAMS = (
    Stream("support-bot", "production", "support", "answer", "openai", "gpt-4o-mini", 6, (800, 4000), (100, 600),
           cache_share=0.5),
    Stream("support-bot", "production", "support", "summarize", "anthropic", "claude-3-5-haiku", 3, (1500, 5000),
           (100, 500), cache_share=0.6, writes_cache=True),
    Stream("code-review", "production", "platform", "review", "anthropic", "claude-sonnet-4", 2, (2000, 12000),
           (200, 1500), cache_share=0.4, writes_cache=True),
    Stream("code-review", "staging", "platform", "plan", "openai", "o4-mini", 1, (1000, 4000), (500, 3000),
           reasoning=True),
    Stream("search", "production", "growth", "embed", "openai", "text-embedding-3-small", 8, (50, 500), (0, 0)),
    Stream("search", "production", "growth", "rerank", "openai", "gpt-4.1-mini", 2, (500, 2500), (50, 300),
           cache_share=0.3),
    # A fine-tuned model no price list knows: stored unpriced, cost NULL.
    Stream("lab", "development", "research", "experiment", "openai", "acme-llama-ft", 0.5, (500, 2000), (100, 400)),
)

TENANTS = ("acme", "globex", "initech")
TIERS = ("gold", "silver")


def price(model: str, *, input_tokens: int, output_tokens: int, cache_read: int = 0,
          cache_write: int = 0) -> tuple[Decimal | None, dict[str, Decimal]]:
    """Cost and its components, or (None, {}) for a model without a price."""
    prices = PRICES.get(model)
    if prices is None:
        return None, {}
    counts = {"input": input_tokens - cache_read - cache_write}
    for name, tokens, rate in (("cache_read", cache_read, prices.cache_read),
                               ("cache_write", cache_write, prices.cache_write)):
        if rate is None:
            counts["input"] += tokens
        else:
            counts[name] = tokens
    counts["output"] = output_tokens
    details = {name: getattr(prices, name) * tokens / MILLION for name, tokens in counts.items() if tokens}
    return sum(details.values(), Decimal(0)), details


def cache_saving(model: str, cache_read: int) -> Decimal:
    """What the cache reads would have cost at the input price, minus their cache price."""
    prices = PRICES[model]
    if prices.cache_read is None:
        return Decimal(0)
    return cache_read * (prices.input - prices.cache_read) / MILLION


def make_call(n: int, stream: Stream, at: datetime, *, input_tokens: int, output_tokens: int, cache_read: int = 0,
              cache_write: int = 0, reasoning: int = 0, user: str = "", tenant: str = "",
              tags: dict | None = None, trace_id: str | None = None, status: str = "Ok",
              app: str | None = None, model: str | None = None) -> LlmCall:
    model = model or stream.model
    cost, details = price(model, input_tokens=input_tokens, output_tokens=output_tokens, cache_read=cache_read,
                          cache_write=cache_write)
    return LlmCall(
        timestamp_ns=int(at.timestamp()) * 10**9 + at.microsecond * 1000,
        trace_id=trace_id or f"{n:032x}", span_id=f"{n:016x}",
        duration_ns=1_500_000_000,
        provider=stream.provider, operation="embeddings" if "embedding" in model else "chat",
        request_model=model, response_model=model,
        service_name=app or stream.app, app=app or stream.app, environment=stream.environment,
        user_id=user, team=stream.team, feature=stream.feature, tenant=tenant, tags=tags or {},
        input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cache_read,
        cache_write_tokens=cache_write, reasoning_tokens=reasoning, usage_reported=True,
        status=status, error_type="" if status != "Error" else "RateLimitError",
        cost=cost, cost_details=details, unpriced=cost is None,
        price_source="" if cost is None else "catalog", price_version="" if cost is None else "test prices",
    )


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means used here."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _daily_shape(hour: int) -> float:
    """Busy in the (UTC) working day, quiet at night."""
    return 0.3 + 1.3 * max(0.0, math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 0.3


def generate_month(seed: int = 2025) -> list[LlmCall]:
    """About 15,000 calls over March 2025, the same ones for the same seed."""
    rng = random.Random(seed)
    calls: list[LlmCall] = []
    hour = MONTH_START
    while hour < MONTH_END:
        weekend = 0.6 if hour.weekday() >= 5 else 1.0
        for stream in STREAMS:
            for _ in range(_poisson(rng, stream.calls_per_hour * _daily_shape(hour.hour) * weekend)):
                calls.append(_random_call(rng, len(calls) + 1, stream, hour + timedelta(seconds=rng.randrange(3600))))
        hour += timedelta(hours=1)
    return calls


def _random_call(rng: random.Random, n: int, stream: Stream, at: datetime) -> LlmCall:
    input_tokens = rng.randint(*stream.input_tokens)
    output_tokens = rng.randint(*stream.output_tokens)
    cache_read = cache_write = 0
    if rng.random() < stream.cache_share:
        cache_read = 128 * rng.randint(1, input_tokens * 6 // 10 // 128 or 1)
    if stream.writes_cache and rng.random() < 0.2:
        cache_write = min(rng.randint(200, 1200), input_tokens - cache_read)
    reasoning = rng.randint(0, output_tokens // 2) if stream.reasoning else 0
    tags = {"tier": rng.choice(TIERS)} if rng.random() < 0.7 else {}
    return make_call(n, stream, at, input_tokens=input_tokens, output_tokens=output_tokens, cache_read=cache_read,
                     cache_write=cache_write, reasoning=reasoning, user=f"user-{rng.randint(1, 40)}",
                     tenant=rng.choice(TENANTS), tags=tags, status="Error" if rng.random() < 0.02 else "Ok")


def stream_of(app: str, model: str) -> Stream:
    return next(s for s in STREAMS if s.app == app and s.model == model)


@dataclass(frozen=True)
class Injected:
    """An anomaly put into the data: which kinds may report it, for whom, and when."""

    kinds: frozenset[str]
    app: str
    model: str
    start: datetime
    end: datetime


EXPENSIVE_CALL_AT = datetime(2025, 3, 27, 14, 23, 5, tzinfo=timezone.utc)
LOOP_HOUR = datetime(2025, 3, 29, 3, tzinfo=timezone.utc)
BUSY_DAY = datetime(2025, 3, 31, tzinfo=timezone.utc)
NEW_MODEL_AT = datetime(2025, 3, 30, 10, tzinfo=timezone.utc)
NEW_APP_AT = datetime(2025, 3, 28, 9, tzinfo=timezone.utc)


def injected_anomalies() -> tuple[list[LlmCall], list[Injected]]:
    """Calls to add to the month, and what each group of them should be reported as."""
    rng = random.Random(7)
    calls: list[LlmCall] = []
    n = 10_000_000

    def add(stream, at, **usage):
        nonlocal n
        n += 1
        calls.append(make_call(n, stream, at, user="user-1", tenant="acme", **usage))

    # One call with a 180k-token prompt: 180,000 x 3.00/1M + 8,000 x 15/1M = 0.54 + 0.12 = $0.66,
    # where the app/model's calls cost a few cents. Its hour may also count as a spike.
    review = stream_of("code-review", "claude-sonnet-4")
    add(review, EXPENSIVE_CALL_AT, input_tokens=180_000, output_tokens=8_000)
    expected = [Injected(frozenset({"request_outlier", "hourly_spike"}), review.app, review.model,
                         EXPENSIVE_CALL_AT, EXPENSIVE_CALL_AT + timedelta(seconds=1))]

    # A runaway loop at 03:00: 400 calls in one night hour (its day may show it too).
    answer = stream_of("support-bot", "gpt-4o-mini")
    for i in range(400):
        add(answer, LOOP_HOUR + timedelta(seconds=i * 9), input_tokens=3000, output_tokens=500)
    expected.append(Injected(frozenset({"hourly_spike", "daily_spike"}), answer.app, answer.model,
                             LOOP_HOUR, LOOP_HOUR + timedelta(hours=1)))

    # A day at five times the usual traffic (its busiest hours may show it too).
    summarize = stream_of("support-bot", "claude-3-5-haiku")
    for hour in range(24):
        at = BUSY_DAY + timedelta(hours=hour)
        for _ in range(_poisson(rng, 4 * summarize.calls_per_hour * _daily_shape(hour))):
            add(summarize, at + timedelta(seconds=rng.randrange(3600)), input_tokens=rng.randint(1500, 5000),
                output_tokens=rng.randint(100, 500))
    expected.append(Injected(frozenset({"daily_spike", "hourly_spike"}), summarize.app, summarize.model,
                             BUSY_DAY, BUSY_DAY + timedelta(days=1)))

    # code-review tries a model nobody used before.
    for i in range(5):
        add(review, NEW_MODEL_AT + timedelta(minutes=i), input_tokens=4000, output_tokens=600, model="gpt-4.1")
    expected.append(Injected(frozenset({"new_model"}), "", "gpt-4.1", NEW_MODEL_AT, NEW_MODEL_AT + timedelta(1)))

    # A new app appears, on a known model.
    for i in range(3):
        add(answer, NEW_APP_AT + timedelta(minutes=i), input_tokens=1000, output_tokens=100, app="batch-eval")
    expected.append(Injected(frozenset({"new_app"}), "batch-eval", "", NEW_APP_AT, NEW_APP_AT + timedelta(1)))
    return calls, expected


def load(client, calls: list[LlmCall], batch: int = 5000) -> None:
    """Write the calls through the processor's own writer, a batch per insert token."""
    writer = ClickHouseWriter(client, ())
    for first in range(0, len(calls), batch):
        rows = [llm_span_row(c) for c in calls[first:first + batch]]
        writer.write([], rows, token=f"synthetic-{first}-{len(calls)}")
