"""One chart of the report for any period, scope and dimension: `llmledger plot`, for slides."""
from __future__ import annotations

from matplotlib.figure import Figure

from ..analytics import budget_use, budgets_in_force, stacked_trend, top_with_share
from ..analytics.runner import Runner
from . import charts
from .build import TREND_SERIES
from .model import ReportScope
from .periods import ReportPeriod

CHARTS = ("trend", "share", "tokens", "cost-requests", "burn-down")
DEFAULT_DIMENSION = {"trend": "model", "share": "model", "tokens": "app", "cost-requests": "app"}


def plot(run: Runner, chart: str, period: ReportPeriod, scope: ReportScope = ReportScope(),
         dimension: str | None = None, top: int = 10) -> Figure | None:
    """The chart, or None when the period has nothing to show on it."""
    if chart not in CHARTS:
        raise ValueError(f"unknown chart {chart!r}: use one of {', '.join(CHARTS)}")
    start, end, filters = period.start, period.end, scope.filters
    if chart == "burn-down":
        if dimension:
            raise ValueError("the burn-down chart shows budgets: it takes no dimension")
        budgets = [b for b in budgets_in_force(run)
                   if scope.dimension is None or (b.scope, b.value) == (scope.dimension, scope.value)]
        return charts.burn_down_chart(budget_use(run, budgets, start, end, period.tz))
    dimension = dimension or DEFAULT_DIMENSION[chart]
    if chart == "trend":
        granularity = "hour" if period.days == 1 else "day"
        return charts.trend_chart(stacked_trend(run, granularity, start, end, dimension, filters=filters,
                                                tz=period.tz, top=TREND_SERIES))
    spenders = top_with_share(run, dimension, start, end, limit=top, filters=filters)
    draw = {"share": charts.share_chart, "tokens": charts.tokens_chart, "cost-requests": charts.cost_requests_chart}
    return draw[chart](spenders)
