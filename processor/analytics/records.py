"""What the analytics API returns: plain frozen dataclasses with exact Decimal money."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True, kw_only=True)
class Spend:
    """What a set of LLM calls cost and used. `cost` adds up priced calls only, and is None
    when none of them has a cost (unpriced is not $0); `unpriced_requests` says how many
    calls are in the counts but have no price."""

    cost: Decimal | None
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
    cost: Decimal | None  # None when none of its calls is priced
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


# --- what the pages and reports read besides the above ---------------------------------------


@dataclass(frozen=True, kw_only=True)
class PeriodSpend:
    """Spend in the current day, ISO week or month so far, against the same part of the
    period before (e.g. today until this hour vs yesterday until the same hour)."""

    period: str  # "today", "week", "month"
    start: datetime
    end: datetime  # the end of the current hour: what is in so far
    cost: Decimal
    requests: int
    unpriced_requests: int
    previous_start: datetime
    previous_end: datetime
    previous_cost: Decimal
    previous_requests: int
    change: Decimal | None  # (cost - previous) / previous; None when nothing was spent before


@dataclass(frozen=True, kw_only=True)
class ShareRow(CostRow):
    """A value of a dimension with its part of the total cost (None when the total is 0)."""

    share: Decimal | None


@dataclass(frozen=True, kw_only=True)
class TopSpenders:
    """The biggest values of a dimension, and what all of them together spent."""

    dimension: str
    rows: tuple[ShareRow, ...]
    total: Spend  # every value, not only the top ones
    others: Spend | None  # what the values below the top spent together; None when none are left


@dataclass(frozen=True, kw_only=True)
class TrendSeries:
    key: str  # the dimension's value, or "(other)" for the values outside the top
    costs: tuple[Decimal, ...]  # one per bucket of the StackedTrend


@dataclass(frozen=True, kw_only=True)
class StackedTrend:
    """Spend per bucket, split into the top values of a dimension plus the rest, every
    series aligned to the same buckets (empty buckets are 0) so they stack."""

    granularity: str
    dimension: str | None
    buckets: tuple[datetime | date, ...]
    series: tuple[TrendSeries, ...]  # most expensive first; "(other)" last
    totals: tuple[Decimal, ...]  # per bucket
    requests: tuple[int, ...]  # per bucket


OTHER = "(other)"


@dataclass(frozen=True, kw_only=True)
class MatrixCell(Spend):
    """Spend of one value of the row dimension and one of the column dimension."""

    row: str
    column: str


@dataclass(frozen=True, kw_only=True)
class CostMatrix:
    """One dimension by another: rows and columns most expensive first, with totals."""

    row_dimension: str
    column_dimension: str
    rows: tuple[CostRow, ...]  # totals per row value
    columns: tuple[CostRow, ...]  # totals per column value
    cells: tuple[MatrixCell, ...]

    def cell(self, row: str, column: str) -> MatrixCell | None:
        for cell in self.cells:
            if cell.row == row and cell.column == column:
                return cell
        return None


@dataclass(frozen=True, kw_only=True)
class UnpricedModel:
    provider: str
    model: str
    unpriced_requests: int
    last_hour: datetime  # the start of the last hour with an unpriced call


@dataclass(frozen=True, kw_only=True)
class LlmCallRow:
    """One LLM call as listed among the most expensive ones."""

    timestamp: datetime
    trace_id: str
    span_id: str
    app: str
    environment: str
    provider: str
    operation: str
    model: str
    user_id: str
    team: str
    feature: str
    tenant: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost: Decimal | None  # None: unpriced, or never sent (status Refused) or failed before it used anything
    unpriced: bool  # no price was found for what it used
    cost_details: dict[str, Decimal]
    price_source: str
    duration_ns: int
    status: str


@dataclass(frozen=True, kw_only=True)
class TraceSpan:
    """One span of a trace, of any kind, placed in the trace's tree. LLM spans carry their
    priced call (`call`); the others carry none."""

    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service: str
    start: datetime
    duration_ns: int
    status: str
    status_message: str
    depth: int  # 0 for a root (a span whose parent is not stored)
    call: LlmCallRow | None = None


@dataclass(frozen=True, kw_only=True)
class TraceTree:
    """A trace's spans in tree order (each parent before its children, siblings by start
    time), with the total of its LLM calls."""

    trace_id: str
    spans: tuple[TraceSpan, ...]
    cost: Decimal  # priced LLM calls
    llm_calls: int
    unpriced_calls: int
    input_tokens: int
    output_tokens: int
    start: datetime | None
    duration_ns: int  # first span start to last span end

    @property
    def llm_spans(self) -> tuple[TraceSpan, ...]:
        return tuple(span for span in self.spans if span.call is not None)


@dataclass(frozen=True, kw_only=True)
class BurnPoint:
    at: datetime  # the end of the bucket
    spend: Decimal  # cumulative since the window started


@dataclass(frozen=True, kw_only=True)
class AlertRecord:
    """A threshold (or anomaly) alert claimed in the store, and what became of its deliveries."""

    key: str
    kind: str
    budget_id: str
    window_start: datetime  # of the window (alert period) it was claimed in
    threshold: Decimal
    spend: Decimal
    title: str
    claimed_at: datetime
    sent: int  # channels that took it
    pending: int  # channels whose delivery failed and will be retried
    failed: int  # channels that gave up


@dataclass(frozen=True, kw_only=True)
class BudgetDetail:
    """A budget's live status (from the budget service) with what the page shows around it."""

    status: object  # llmledger.processor.budgets.BudgetStatus
    burn_down: tuple[BurnPoint, ...]
    thresholds_crossed: tuple[Decimal, ...]
    alerts: tuple[AlertRecord, ...]  # this window's
    throttle: str  # "allow", "deny" or "degrade to <model>"


@dataclass(frozen=True, kw_only=True)
class BudgetUse:
    """A budget over a past range: what it spent then, and where its window stood at the end."""

    budget: object  # llmledger.processor.budgets.Budget
    status: object  # a BudgetStatus as of the range's end (the window holding its last moment)
    spend: Decimal | None  # in the range
    month_to_date: Decimal | None  # from the start of the range's last calendar month to its end
    thresholds_crossed: tuple[Decimal, ...]  # in that window, by the range's end
    burn_down: tuple[BurnPoint, ...]  # of that window, up to the range's end
    refused_calls: int  # in the range, refused by the budget guard for calls in the budget's scope


@dataclass(frozen=True, kw_only=True)
class SpikeChart:
    """An anomaly's app/model spend per bucket around it, with the levels it was judged by."""

    anomaly: Anomaly
    granularity: str  # "hour" or "day"
    buckets: tuple[datetime, ...]
    costs: tuple[Decimal, ...]
    baseline: Decimal
    threshold: Decimal | None
