"""A known February and March 2025 of LLM calls for the report tests, priced here by hand
from the providers' published prices (USD per 1M tokens), independently of the processor's
pricing code.

What March has that February has not: a new model (claude-3-5-haiku, from March 10), a new
app (batch-eval), one call with a 200,000-token prompt (a request outlier), calls refused by
the budget guard, and calls whose usage the provider did not report. Traffic is small enough
per hour and day that no spend spike reaches the detector's floors ($1 an hour, $10 a day).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from llmledger.processor.budgets import Budget, Window
from llmledger.processor.corrections import Replacement, apply_replacements
from llmledger.processor.exporters.clickhouse import ClickHouseWriter, llm_span_row
from llmledger.processor.record import LlmCall

FEBRUARY = datetime(2025, 2, 1, tzinfo=timezone.utc)
MARCH = datetime(2025, 3, 1, tzinfo=timezone.utc)
APRIL = datetime(2025, 4, 1, tzinfo=timezone.utc)
FIRST_CALL = datetime(2025, 1, 20, tzinfo=timezone.utc)  # before February: a baseline for new arrivals
NEW_MODEL_FROM = datetime(2025, 3, 10, tzinfo=timezone.utc)
OUTLIER_AT = datetime(2025, 3, 20, 15, 30, tzinfo=timezone.utc)
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Prices:
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None  # None: billed as input
    cache_write: Decimal | None = None


# Published prices, per 1M tokens.
PRICES = {
    "gpt-4o": Prices(Decimal("2.50"), Decimal("10"), cache_read=Decimal("1.25")),
    "gpt-4o-mini": Prices(Decimal("0.15"), Decimal("0.60"), cache_read=Decimal("0.075")),
    "gpt-4.1": Prices(Decimal("2.00"), Decimal("8.00"), cache_read=Decimal("0.50")),
    "gpt-4.1-mini": Prices(Decimal("0.40"), Decimal("1.60"), cache_read=Decimal("0.10")),
    "claude-sonnet-4": Prices(Decimal("3.00"), Decimal("15"), cache_read=Decimal("0.30"), cache_write=Decimal("3.75")),
    "claude-3-5-haiku": Prices(Decimal("0.80"), Decimal("4.00"), cache_read=Decimal("0.08"),
                               cache_write=Decimal("1.00")),
    "text-embedding-3-small": Prices(Decimal("0.02"), Decimal(0)),
}


@dataclass(frozen=True)
class Stream:
    app: str
    team: str
    feature: str
    provider: str
    model: str
    calls_per_day: int
    input_tokens: tuple[int, int]
    output_tokens: tuple[int, int]
    cache_share: float = 0.0  # calls that read from the prompt cache
    writes_cache: bool = False
    first_day: datetime = FIRST_CALL


STREAMS = (
    Stream("support-bot", "support", "answer", "openai", "gpt-4o", 12, (600, 3000), (80, 400), cache_share=0.4),
    Stream("support-bot", "support", "summarize", "anthropic", "claude-sonnet-4", 6, (1500, 6000), (100, 500),
           cache_share=0.5, writes_cache=True),
    Stream("support-bot", "support", "triage", "anthropic", "claude-3-5-haiku", 8, (800, 2500), (50, 200),
           cache_share=0.3, first_day=NEW_MODEL_FROM),
    Stream("code-review", "platform", "review", "openai", "gpt-4.1", 10, (2000, 6000), (300, 800), cache_share=0.3),
    Stream("search", "growth", "embed", "openai", "text-embedding-3-small", 20, (50, 400), (0, 0)),
    # A fine-tuned model no price list knows: stored unpriced, cost NULL.
    Stream("lab", "research", "experiment", "openai", "acme-llama-ft", 3, (500, 1500), (100, 300)),
    # A new app in March, on a model others already use.
    Stream("batch-eval", "growth", "grade", "openai", "gpt-4.1", 4, (1000, 2000), (100, 200), first_day=MARCH),
)
USERS = tuple(f"user-{n}" for n in range(1, 13))
TENANTS = ("acme", "globex")


def price(model: str, input_tokens: int, output_tokens: int, cache_read: int = 0,
          cache_write: int = 0) -> tuple[Decimal | None, dict[str, Decimal]]:
    """Cost and its components: plain input, cache reads, cache writes and output, each
    tokens x its price / 1M; (None, {}) for a model without a price."""
    prices = PRICES.get(model)
    if prices is None:
        return None, {}
    counts = {"input": input_tokens - cache_read - cache_write, "cache_read": cache_read,
              "cache_write": cache_write, "output": output_tokens}
    if prices.cache_write is None:
        counts["input"] += counts.pop("cache_write")
    details = {name: getattr(prices, name) * tokens / MILLION for name, tokens in counts.items() if tokens}
    return sum(details.values(), Decimal(0)), details


_ids = iter(range(1, 10**9))


def prompt_cache_saved(model: str, cache_read: int, cache_write: int) -> Decimal:
    """The cached tokens at the plain input price minus what they were charged (a write at a
    premium counts against it); 0 for a model without cache prices of its own."""
    prices = PRICES.get(model)
    if prices is None:
        return Decimal(0)
    saved = Decimal(0)
    for tokens, rate in ((cache_read, prices.cache_read), (cache_write, prices.cache_write)):
        if tokens and rate is not None:
            saved += tokens * (prices.input - rate) / MILLION
    return saved


def call(stream: Stream, at: datetime, *, input_tokens: int, output_tokens: int, cache_read: int = 0,
         cache_write: int = 0, user: str = "", tenant: str = "acme", usage_reported: bool = True,
         error_type: str = "", cache_kind: str = "", requested_model: str = "", routing: str = "") -> LlmCall:
    """One call as the processor stores it. `cache_kind`: answered by the response cache (costs
    nothing, saves its price); `requested_model` with `routing` ("routing" or "fallback"): sent
    to stream.model instead, saving the price on the requested model minus the price paid."""
    n = next(_ids)
    cost, details = price(stream.model, input_tokens, output_tokens, cache_read, cache_write)
    saving = {"prompt_cache_saved": prompt_cache_saved(stream.model, cache_read, cache_write)}
    if cache_kind:
        saving = {"cache_kind": cache_kind, "saving_strategy": f"{cache_kind}_cache", "saved_cost": cost}
        cost, details = Decimal(0), {}
    elif requested_model:
        saving.update(requested_model=requested_model, saving_strategy=routing,
                      saved_cost=price(requested_model, input_tokens, output_tokens, cache_read, cache_write)[0] - cost)
    refused = error_type in ("BudgetExceededError", "BudgetServiceUnavailableError")
    if error_type and not (input_tokens or output_tokens):
        # Refused by the budget guard (never sent) or failed before it used anything: no cost
        # and nothing to price, which is not "unpriced".
        cost, details = None, {}
    return LlmCall(
        timestamp_ns=int(at.timestamp()) * 10**9, trace_id=f"{n:032x}", span_id=f"{n:016x}",
        duration_ns=900_000_000, provider=stream.provider,
        operation="embeddings" if "embedding" in stream.model else "chat",
        request_model=stream.model, response_model=stream.model, service_name=stream.app, app=stream.app,
        environment="production", user_id=user, team=stream.team, feature=stream.feature, tenant=tenant,
        input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cache_read,
        cache_write_tokens=cache_write, usage_reported=usage_reported,
        usage_source="provider" if usage_reported else "absent",
        status="Refused" if refused else "Error" if error_type else "Ok", error_type=error_type,
        cost=cost, cost_details=details, unpriced=cost is None and not error_type,
        price_source="" if cost is None else "catalog", price_version="" if cost is None else "test prices",
        **saving)


def generate() -> list[LlmCall]:
    """The same calls every time: from January 20 to March 31, 2025."""
    rng = random.Random(20250301)
    calls: list[LlmCall] = []
    day = FIRST_CALL
    while day < APRIL:
        for stream in STREAMS:
            if day < stream.first_day:
                continue
            for _ in range(stream.calls_per_day):
                calls.append(_random_call(rng, stream, day + timedelta(seconds=rng.randrange(86_400))))
        day += timedelta(days=1)
    return calls + march_specials()


def _random_call(rng: random.Random, stream: Stream, at: datetime) -> LlmCall:
    input_tokens = rng.randint(*stream.input_tokens)
    cache_read = cache_write = 0
    if rng.random() < stream.cache_share:
        cache_read = 64 * rng.randint(1, input_tokens // 2 // 64)  # always some plain input left
    if stream.writes_cache and rng.random() < 0.25:
        cache_write = rng.randint(100, (input_tokens - cache_read) // 2)
    user = rng.choice(USERS + ("",))  # some calls name no user
    return call(stream, at, input_tokens=input_tokens, output_tokens=rng.randint(*stream.output_tokens),
                cache_read=cache_read, cache_write=cache_write, user=user, tenant=rng.choice(TENANTS))


def stream(app: str, model: str) -> Stream:
    return next(s for s in STREAMS if s.app == app and s.model == model)


def march_specials() -> list[LlmCall]:
    answer = stream("support-bot", "gpt-4o")
    review = stream("code-review", "gpt-4.1")
    specials = [
        # 200,000 x 2.00 / 1M = $0.40, plus 5,000 x 8.00 / 1M = $0.04: $0.44, where code-review's
        # gpt-4.1 calls cost about a cent.
        call(review, OUTLIER_AT, input_tokens=200_000, output_tokens=5_000, user="user-3"),
    ]
    # Three calls refused by the budget guard: never sent, no tokens, nothing to pay. Their
    # feature has no other call: a group that costs $0, not an unpriced one.
    drafts = replace(answer, feature="draft")
    specials += [call(drafts, datetime(2025, 3, 28, 9, i, tzinfo=timezone.utc), input_tokens=0, output_tokens=0,
                      user="user-7", usage_reported=False, error_type="BudgetExceededError") for i in range(3)]
    # Two calls the provider failed (rate limited) before using anything: errors, no cost.
    specials += [call(review, datetime(2025, 3, 5, 11, i, tzinfo=timezone.utc), input_tokens=0, output_tokens=0,
                      user="user-4", usage_reported=False, error_type="openai.RateLimitError") for i in range(2)]
    # Four calls whose usage the provider did not report (the counts are an instrumentation's).
    specials += [call(answer, datetime(2025, 3, 12, 10, i, tzinfo=timezone.utc), input_tokens=1000,
                      output_tokens=100, user="user-2", usage_reported=False) for i in range(4)]
    # What caching and routing saved (none of it on code-review's gpt-4.1, whose outlier has a baseline).
    # Five exact response-cache hits: 1,200 x 2.50 + 200 x 10 per 1M = $0.005 each, $0.025 saved.
    specials += [call(answer, datetime(2025, 3, 6, 10, i, tzinfo=timezone.utc), input_tokens=1200,
                      output_tokens=200, user="user-1", cache_kind="exact") for i in range(5)]
    # Two semantic hits: 800 x 2.50 + 100 x 10 per 1M = $0.003 each, $0.006 saved.
    specials += [call(answer, datetime(2025, 3, 7, 10, i, tzinfo=timezone.utc), input_tokens=800,
                      output_tokens=100, user="user-1", cache_kind="semantic") for i in range(2)]
    # Four calls a rule routed from gpt-4o to gpt-4.1: 2,000 x 2.00 + 300 x 8.00 per 1M = $0.0064
    # paid, $0.008 on gpt-4o (2,000 x 2.50 + 300 x 10): $0.0016 saved each, $0.0064 in all.
    routed = replace(answer, model="gpt-4.1")
    specials += [call(routed, datetime(2025, 3, 8, 10, i, tzinfo=timezone.utc), input_tokens=2000,
                      output_tokens=300, user="user-2", requested_model="gpt-4o", routing="routing")
                 for i in range(4)]
    # Two fallbacks from claude-3-5-haiku to the dearer claude-sonnet-4: 1,000 x 3.00 + 100 x 15 per
    # 1M = $0.0045 paid where haiku would have cost 1,000 x 0.80 + 100 x 4.00 = $0.0012: -$0.0033
    # each, -$0.0066 in all.
    fallen_back = replace(stream("support-bot", "claude-3-5-haiku"), model="claude-sonnet-4")
    specials += [call(fallen_back, datetime(2025, 3, 9, 10, i, tzinfo=timezone.utc), input_tokens=1000,
                      output_tokens=100, user="user-3", requested_model="claude-3-5-haiku", routing="fallback")
                 for i in range(2)]
    return specials


# The budgets the report shows: support-bot's month (UTC) and all calls' week in Berlin.
BUDGETS = (
    Budget(id="support-monthly", scope="app", value="support-bot", window=Window("monthly", "UTC"),
           limit=Decimal("6"), thresholds=(Decimal("0.5"), Decimal("0.8"), Decimal("1"))),
    Budget(id="all-weekly", scope="all", value="", window=Window("weekly", "Europe/Berlin"), limit=Decimal("2"),
           thresholds=(Decimal("0.25"), Decimal("0.5")), hard=False),
)


def stale_twins(calls: list[LlmCall]) -> list[tuple[LlmCall, LlmCall]]:
    """Earlier records of three March calls, stored before a twin that records each better (its
    cache reads, which the stale one missed, so it cost more) replaced them: cancelled rows in
    the store (sign -1), which no figure of the report may count. (stale, keeper) pairs."""
    keepers = [c for c in calls if c.cache_read_tokens and not c.cache_kind and at(c) >= MARCH][:3]
    stale = []
    for keeper in keepers:
        cost, details = price(keeper.response_model, keeper.input_tokens, keeper.output_tokens)
        stale.append((replace(keeper, span_id=f"{int(keeper.span_id, 16) + 10**12:016x}", cache_read_tokens=0,
                              cost=cost, cost_details=details, prompt_cache_saved=Decimal(0),
                              instrumentation="other"), keeper))
    return stale


def at(call: LlmCall) -> datetime:
    return datetime.fromtimestamp(call.timestamp_ns // 10**9, timezone.utc)


def load(client, calls: list[LlmCall], batch: int = 5000) -> None:
    writer = ClickHouseWriter(client, ())
    twins = stale_twins(calls)
    writer.write([], [llm_span_row(stale) for stale, _ in twins], token="report-month-stale")
    for first in range(0, len(calls), batch):
        writer.write([], [llm_span_row(c) for c in calls[first:first + batch]], token=f"report-month-{first}")
    apply_replacements(client, [Replacement(stale.trace_id, stale.span_id, keeper.trace_id, keeper.span_id)
                                for stale, keeper in twins])
