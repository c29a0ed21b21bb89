"""What a report holds: plain frozen dataclasses with exact Decimal money, built from the
analytics API by `build.py` and rendered by `render.py` and `charts.py`."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ..analytics import (Anomaly, BudgetUse, Movers, SavingsRow, StackedTrend, TopSpenders, UnpricedModel,
                         UnreportedUsage)
from .periods import ReportPeriod
from .quick_wins import QuickWin

# What a report can be limited to, as `dimension=value` (the hourly rollup has them all).
SCOPE_DIMENSIONS = ("app", "team", "tenant", "feature", "environment")


def unpriced(spend) -> bool:
    """Every call of a group (a breakdown row) has no price: its cost is unknown, not 0."""
    return spend.cost is None or (spend.requests > 0 and spend.unpriced_requests >= spend.requests)


@dataclass(frozen=True)
class ReportScope:
    dimension: str | None = None  # None: all calls
    value: str = ""

    @classmethod
    def parse(cls, text: str) -> ReportScope:
        """"all", or DIMENSION=VALUE such as app=support-bot."""
        text = (text or "all").strip()
        if text == "all":
            return cls()
        dimension, equals, value = text.partition("=")
        if not equals or not value or dimension not in SCOPE_DIMENSIONS:
            raise ValueError(f"scope {text!r}: use all, or one of {', '.join(SCOPE_DIMENSIONS)} as NAME=VALUE, "
                             "e.g. app=support-bot")
        return cls(dimension, value)

    @property
    def filters(self) -> dict:
        return {self.dimension: self.value} if self.dimension else {}

    @property
    def label(self) -> str:
        return "all calls" if self.dimension is None else f"{self.dimension} {self.value}"

    def __str__(self) -> str:
        return "all" if self.dimension is None else f"{self.dimension}={self.value}"


@dataclass(frozen=True, kw_only=True)
class Headline:
    cost: Decimal | None  # None: every call unpriced
    previous_cost: Decimal | None
    change: Decimal | None  # cost - previous_cost
    change_ratio: Decimal | None  # change / previous_cost; None when nothing was spent before
    requests: int
    previous_requests: int
    requests_change_ratio: Decimal | None
    unpriced_requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    previous_total_tokens: int
    tokens_change_ratio: Decimal | None
    cost_per_request: Decimal | None  # over priced calls
    cost_per_1k_tokens: Decimal | None  # over priced calls' tokens
    active_users: int  # distinct user ids with calls
    user_cost: Decimal  # what the calls with a user id cost
    cost_per_active_user: Decimal | None  # user_cost / active_users


@dataclass(frozen=True, kw_only=True)
class CacheUse:
    """The providers' prompt caches in the period (what they saved is among the savings)."""

    cache_read_tokens: int
    cache_write_tokens: int
    input_tokens: int
    read_share: Decimal | None  # cache reads / input tokens


@dataclass(frozen=True, kw_only=True)
class DataQuality:
    requests: int
    unpriced_requests: int
    unpriced_models: tuple[UnpricedModel, ...]
    unreported_usage: tuple[UnreportedUsage, ...]  # calls whose tokens the provider did not report

    @property
    def unreported_calls(self) -> int:
        return sum(row.calls for row in self.unreported_usage)


@dataclass(frozen=True, kw_only=True)
class Report:
    title: str
    scope: ReportScope
    period: ReportPeriod
    generated_at: datetime
    headline: Headline
    movers: tuple[Movers, ...]
    breakdowns: tuple[TopSpenders, ...]  # model, app, team, feature, provider, user
    trend: StackedTrend  # per day (per hour for a one-day report), stacked by model
    budgets: tuple[BudgetUse, ...]
    anomalies: tuple[Anomaly, ...]  # outliers and spikes
    new_models: tuple[Anomaly, ...]
    new_apps: tuple[Anomaly, ...]
    savings: tuple[SavingsRow, ...]  # by strategy: response cache, routing, fallbacks, prompt caching
    cache: CacheUse
    data_quality: DataQuality
    quick_wins: tuple[QuickWin, ...]
    links: dict[str, str] = field(default_factory=dict)  # page -> URL in the built-in pages

    @property
    def saved(self) -> Decimal:
        """What every strategy saved together (net: dearer routes count against it)."""
        return sum((row.saved for row in self.savings), Decimal(0))

    def breakdown(self, dimension: str) -> TopSpenders | None:
        return next((b for b in self.breakdowns if b.dimension == dimension), None)
