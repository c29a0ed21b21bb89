"""API prices against self-hosting, for the measured token volume.

    volume = measured_volume(run, start, end, filters)
    result = compare(volume, SelfHosting(gpu_hour_cost=Decimal("2.40"), gpus=2, tokens_per_second=2500,
                                         utilization=Decimal("0.6"), fixed_monthly=Decimal(1500)))
    result.verdict, result.break_even_tokens

A month is 730 hours (365 x 24 / 12). The measured period is scaled to a month; the API
cost per token is the measured average (cost of priced calls / their tokens). Self-hosting
a month costs GPUs x GPU-hour cost x 730 + fixed costs, with as many GPUs as the volume
needs (at least the number given): one GPU serves tokens/s x utilisation x 3600 x 730
tokens a month. Alternatively a price book's GPU-amortized price per 1M tokens is used.
The break-even volume is the monthly token volume from which self-hosting costs no more
than the API; None when it never does (a GPU's monthly output is worth less at API
prices than the GPU costs).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Context, Decimal

from .dimensions import filter_conditions
from .runner import Runner, as_decimal, fetch
from .sql_files import load_sql
from .time_range import checked_range, range_parameters

HOURS_PER_MONTH = Decimal(730)
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)
_CENTS = Decimal("0.01")
_MILLION = Decimal(1_000_000)
_MAX_GPUS = 100_000  # where the break-even search gives up


@dataclass(frozen=True)
class MeasuredVolume:
    start: datetime
    end: datetime
    calls: int
    unpriced_calls: int
    tokens: int  # input + output of the priced calls
    cost: Decimal  # what they cost at API prices

    @property
    def months(self) -> Decimal:
        hours = Decimal(int((self.end - self.start).total_seconds())) / 3600
        return _CONTEXT.divide(hours, HOURS_PER_MONTH)


@dataclass(frozen=True)
class SelfHosting:
    """What self-hosting costs: GPUs, or a price per 1M tokens from a price book's GPU amortization."""

    gpu_hour_cost: Decimal | None = None
    gpus: int = 1
    tokens_per_second: Decimal | None = None  # sustained, per GPU
    utilization: Decimal = Decimal(1)
    fixed_monthly: Decimal = Decimal(0)
    price_per_million: Decimal | None = None  # instead of the GPU figures
    source: str = ""

    def __post_init__(self) -> None:
        if self.price_per_million is None:
            if self.gpu_hour_cost is None or self.tokens_per_second is None:
                raise ValueError("self-hosting needs a GPU-hour cost and tokens per second per GPU "
                                 "(or a price book GPU-amortization entry)")
            if self.gpu_hour_cost < 0 or self.tokens_per_second <= 0 or self.gpus < 1:
                raise ValueError("GPU-hour cost must be >= 0, tokens per second > 0 and GPUs >= 1")
        elif self.price_per_million < 0:
            raise ValueError("the self-hosted price per 1M tokens must be >= 0")
        if not (0 < self.utilization <= 1):
            raise ValueError(f"utilisation must be in (0, 1], got {self.utilization}")
        if self.fixed_monthly < 0:
            raise ValueError("fixed monthly costs must be >= 0")

    @property
    def tokens_per_gpu_month(self) -> Decimal:
        return _CONTEXT.multiply(_CONTEXT.multiply(self.tokens_per_second, self.utilization),
                                 3600 * HOURS_PER_MONTH)

    def gpus_for(self, monthly_tokens: Decimal) -> int:
        needed = int(_CONTEXT.divide(monthly_tokens, self.tokens_per_gpu_month).to_integral_value(ROUND_CEILING))
        return max(self.gpus, needed)

    def monthly_cost(self, monthly_tokens: Decimal) -> Decimal:
        if self.price_per_million is not None:
            variable = _CONTEXT.divide(_CONTEXT.multiply(monthly_tokens, self.price_per_million), _MILLION)
            return _CONTEXT.add(variable, self.fixed_monthly)
        gpu_month = _CONTEXT.multiply(self.gpu_hour_cost, HOURS_PER_MONTH)
        return _CONTEXT.add(_CONTEXT.multiply(gpu_month, self.gpus_for(monthly_tokens)), self.fixed_monthly)


@dataclass(frozen=True)
class TcoComparison:
    monthly_tokens: int
    api_monthly_cost: Decimal  # cents
    api_cost_per_million: Decimal | None
    self_hosted_monthly_cost: Decimal  # cents
    gpus_needed: int | None  # None with a price-book price
    break_even_tokens: int | None  # monthly volume from which self-hosting is no dearer; None: never
    cheaper: str  # "api" | "self-hosted" | "equal"
    verdict: str


def measured_volume(run: Runner, start: datetime | date, end: datetime | date,
                    filters: dict | None = None) -> MeasuredVolume:
    start, end = checked_range(start, end)
    _, conditions, parameters = filter_conditions(filters)
    parameters.update(range_parameters(start, end))
    sql = load_sql("measured_volume").replace("{conditions}", "".join(f" AND {c}" for c in conditions))
    row = fetch(run, sql, parameters)[0]
    return MeasuredVolume(start, end, int(row["calls"]), int(row["unpriced_calls"]),
                          int(row["priced_input_tokens"]) + int(row["priced_output_tokens"]), as_decimal(row["paid"]))


def compare(volume: MeasuredVolume, hosting: SelfHosting) -> TcoComparison:
    months = volume.months
    monthly_tokens = _CONTEXT.divide(Decimal(volume.tokens), months)
    api_monthly = _CONTEXT.divide(volume.cost, months)
    self_monthly = hosting.monthly_cost(monthly_tokens)
    per_token = _CONTEXT.divide(volume.cost, Decimal(volume.tokens)) if volume.tokens else None
    break_even = None if per_token is None else _break_even(hosting, per_token)
    api_cents, self_cents = api_monthly.quantize(_CENTS, context=_CONTEXT), self_monthly.quantize(_CENTS,
                                                                                                context=_CONTEXT)
    if api_cents < self_cents:
        cheaper, verdict = "api", f"the API is cheaper this month by {self_cents - api_cents} USD"
    elif self_cents < api_cents:
        cheaper, verdict = "self-hosted", f"self-hosting is cheaper this month by {api_cents - self_cents} USD"
    else:
        cheaper, verdict = "equal", "both cost the same this month"
    return TcoComparison(
        monthly_tokens=int(monthly_tokens.to_integral_value(ROUND_HALF_EVEN)),
        api_monthly_cost=api_cents,
        api_cost_per_million=None if per_token is None else _CONTEXT.multiply(per_token, _MILLION).quantize(
            Decimal("1e-6"), context=_CONTEXT),
        self_hosted_monthly_cost=self_cents,
        gpus_needed=None if hosting.price_per_million is not None else hosting.gpus_for(monthly_tokens),
        break_even_tokens=break_even,
        cheaper=cheaper,
        verdict=verdict,
    )


def _break_even(hosting: SelfHosting, api_per_token: Decimal) -> int | None:
    """The smallest monthly volume V with V x api price >= self-hosting's cost of V."""
    if api_per_token <= 0:
        return None
    if hosting.price_per_million is not None:
        margin = _CONTEXT.subtract(api_per_token, _CONTEXT.divide(hosting.price_per_million, _MILLION))
        if margin <= 0:
            return None
        return _whole(_CONTEXT.divide(hosting.fixed_monthly, margin))
    gpu_month = _CONTEXT.multiply(hosting.gpu_hour_cost, HOURS_PER_MONTH)
    capacity = hosting.tokens_per_gpu_month
    for gpus in range(hosting.gpus, hosting.gpus + _MAX_GPUS):
        cost = _CONTEXT.add(_CONTEXT.multiply(gpu_month, gpus), hosting.fixed_monthly)
        volume = _CONTEXT.divide(cost, api_per_token)
        if volume <= _CONTEXT.multiply(capacity, gpus):
            return _whole(volume)
        # One more GPU adds `capacity` tokens worth capacity x price at the API: if that does
        # not pay for the GPU, the API stays cheaper at every larger volume.
        if _CONTEXT.multiply(capacity, api_per_token) <= gpu_month:
            return None
    return None


def _whole(tokens: Decimal) -> int:
    return int(tokens.to_integral_value(ROUND_CEILING))
