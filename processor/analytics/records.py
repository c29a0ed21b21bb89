"""What the analytics API returns: plain frozen dataclasses with exact Decimal money."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True, kw_only=True)
class Spend:
    """What a set of LLM calls cost and used. `cost` adds up priced calls only;
    `unpriced_requests` says how many calls are in the counts but have no price."""

    cost: Decimal
    requests: int
    unpriced_requests: int
    errors: int
    input_tokens: int  # includes cache read and cache write tokens
    output_tokens: int  # includes reasoning tokens
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    total_tokens: int  # input + output


@dataclass(frozen=True, kw_only=True)
class CostRow(Spend):
    """Spend of one value of a dimension, e.g. dimension "app", key "support-bot"."""

    dimension: str
    key: str


@dataclass(frozen=True, kw_only=True)
class TrendPoint(Spend):
    """Spend in one time bucket: an aware datetime for hours, a calendar date in the
    trend's time zone for days, weeks (their Monday) and months (their first day)."""

    bucket: datetime | date
    key: str | None = None  # the dimension's value when the trend is split by one


@dataclass(frozen=True, kw_only=True)
class CostSummary(Spend):
    start: datetime
    end: datetime
    priced_requests: int
    priced_tokens: int  # tokens of priced calls: what the per-1k average divides by
    average_cost_per_request: Decimal | None  # over priced calls; None when there are none
    average_cost_per_1k_tokens: Decimal | None
    cache_savings: Decimal  # cache reads valued at the input rate, minus what they cost
    cache_savings_unknown_requests: int  # calls with cache reads whose saving cannot be derived


@dataclass(frozen=True, kw_only=True)
class TraceCall:
    """One LLM call of a trace."""

    timestamp: datetime
    span_id: str
    parent_span_id: str
    app: str
    provider: str
    operation: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost: Decimal | None  # None: unpriced
    status: str
    duration_ns: int


@dataclass(frozen=True, kw_only=True)
class TraceCost:
    trace_id: str
    cost: Decimal
    llm_calls: int
    unpriced_calls: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    span_count: int  # spans of every kind stored for the trace in otel_traces
    first_call: datetime | None
    last_call: datetime | None
    apps: tuple[str, ...]
    models: tuple[str, ...]
    calls: tuple[TraceCall, ...] = field(default=())


@dataclass(frozen=True, kw_only=True)
class Anomaly:
    """Something unusual in the spend, with what it was compared with.

    kind: "request_outlier" (one call far above its app/model's trailing p95),
    "hourly_spike" / "daily_spike" (an app/model's spend in an hour or a day above the
    Tukey fence of its trailing buckets), "new_app" / "new_model" (first seen in the window).
    """

    kind: str
    app: str  # "" for new_model
    model: str  # "" for new_app
    at: datetime  # the call's time, the bucket's start, or when it was first seen
    observed: Decimal  # the call's cost, the bucket's spend, or the spend since first seen
    baseline: Decimal  # trailing p95 (request), trailing median (spike), 0 (new)
    threshold: Decimal | None  # the level crossed: multiplier x p95, the fence; None for new
    score: float  # observed / threshold (spikes: / max(fence, spend floor)); new: calls seen
    requests: int  # calls behind `observed`
    baseline_samples: int  # calls (request) or buckets (spike) the baseline was taken over
    trace_ids: tuple[str, ...]  # example traces to look at
    description: str
