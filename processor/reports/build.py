"""Building a report from the analytics API: every figure is read through it, none here."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Mapping
from urllib.parse import urlencode

from ..analytics import (AnomalySettings, Spend, budget_use, budgets_in_force, cost_by, find_anomalies,
                         savings_by, stacked_trend, summary, unpriced_models, unreported_usage)
from ..analytics.breakdown import with_share
from ..analytics.movers import compare
from ..analytics.runner import Runner
from ..pricing import Pricer
from .model import CacheUse, DataQuality, Headline, Report, ReportScope
from .periods import ReportPeriod
from .quick_wins import CHEAPER_MODELS, Repricer, cheaper_model_wins, prompt_cache_wins, whatif_repricer

BREAKDOWN_DIMENSIONS = ("model", "app", "team", "feature", "provider", "user")
MOVER_DIMENSIONS = ("model", "app", "team", "feature", "user")
TREND_SERIES = 6  # models stacked in the trend; the rest is "(other)"

_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)
_PLACES = Decimal("1e-12")  # ratios and averages, as the store keeps money


@dataclass(frozen=True)
class ReportSettings:
    top: int = 10  # rows of each breakdown
    movers: int = 5  # risers and fallers of each dimension
    cheaper_models: Mapping[str, str] = field(default_factory=lambda: dict(CHEAPER_MODELS))
    pages_url: str = ""  # where the built-in pages are, for links ("" leaves them out)
    anomalies: AnomalySettings | None = None


def build_report(run: Runner, period: ReportPeriod, scope: ReportScope = ReportScope(), *, pricer: Pricer,
                 settings: ReportSettings = ReportSettings(), repricer: Repricer | None = None,
                 now: datetime | None = None) -> Report:
    """The report of `period` for `scope`. `repricer` re-prices a model's tokens on a cheaper
    one (default: the what-if engine, with `pricer`'s prices)."""
    filters = scope.filters
    start, end = period.start, period.end
    current = summary(run, start, end, filters)
    previous = summary(run, period.previous_start, period.previous_end, filters)
    # Each dimension's breakdown is read once per period: the breakdowns, the movers and the
    # users all come from it.
    rows = {d: cost_by(run, d, start, end, filters) for d in BREAKDOWN_DIMENSIONS if d != scope.dimension}
    rows_before = {d: cost_by(run, d, period.previous_start, period.previous_end, filters)
                   for d in MOVER_DIMENSIONS if d != scope.dimension}
    total = Spend(**{name: getattr(current, name) for name in Spend.__dataclass_fields__})
    users = [row for row in rows["user"] if row.key]
    models = [row.key for row in rows["model"]]
    reprice = repricer or whatif_repricer(run, pricer)
    found = find_anomalies(run, start, end, settings=settings.anomalies) if scope.dimension in (None, "app") else []
    if scope.dimension == "app":  # this app's anomalies, and the new models it used
        found = [a for a in found if a.app == scope.value or (a.kind == "new_model" and a.model in models)]
    budgets = [b for b in budgets_in_force(run)
               if scope.dimension is None or (b.scope, b.value) == (scope.dimension, scope.value)]
    return Report(
        title=_title(period, scope),
        scope=scope,
        period=period,
        generated_at=now or datetime.now(timezone.utc),
        headline=_headline(current, previous, users),
        movers=tuple(compare(d, rows[d], rows_before[d], settings.movers) for d in rows_before),
        breakdowns=tuple(with_share(found, total, settings.top, d) for d, found in rows.items()),
        trend=stacked_trend(run, "hour" if period.days == 1 else "day", start, end, "model", filters=filters,
                            tz=period.tz, top=TREND_SERIES),
        budgets=tuple(budget_use(run, budgets, start, end, period.tz)),
        anomalies=tuple(a for a in found if not a.kind.startswith("new_")),
        new_models=tuple(a for a in found if a.kind == "new_model"),
        new_apps=tuple(a for a in found if a.kind == "new_app"),
        savings=tuple(savings_by(run, "strategy", start, end, filters)),
        cache=CacheUse(cache_read_tokens=current.cache_read_tokens, cache_write_tokens=current.cache_write_tokens,
                       input_tokens=current.input_tokens, read_share=_ratio(current.cache_read_tokens,
                                                                            current.input_tokens)),
        data_quality=DataQuality(requests=current.requests, unpriced_requests=current.unpriced_requests,
                                 unpriced_models=tuple(unpriced_models(run, start, end, filters)),
                                 unreported_usage=tuple(unreported_usage(run, start, end, filters))),
        quick_wins=tuple(cheaper_model_wins(models, reprice, start, end, filters, settings.cheaper_models)
                         + prompt_cache_wins(run, pricer, start, end, filters)),
        links=page_links(settings.pages_url, period, scope),
    )


def page_links(pages_url: str, period: ReportPeriod, scope: ReportScope) -> dict[str, str]:
    """The built-in pages showing the report's period and scope."""
    if not pages_url:
        return {}
    base = pages_url.rstrip("/")
    query = urlencode({"from": period.first_day.isoformat(), "to": period.last_day.isoformat(), "tz": period.tz,
                       **scope.filters})
    return {"overview": f"{base}/?{query}", "breakdown": f"{base}/breakdown?{query}&by=model",
            "budgets": f"{base}/budgets", "anomalies": f"{base}/anomalies?{query}"}


def _headline(current, previous, users) -> Headline:
    user_cost = sum((row.cost for row in users if row.cost is not None), Decimal(0))
    return Headline(
        cost=current.cost, previous_cost=previous.cost, change=_difference(current.cost, previous.cost),
        change_ratio=_change(current.cost, previous.cost),
        requests=current.requests, previous_requests=previous.requests,
        requests_change_ratio=_change(current.requests, previous.requests),
        unpriced_requests=current.unpriced_requests, errors=current.errors,
        input_tokens=current.input_tokens, output_tokens=current.output_tokens, total_tokens=current.total_tokens,
        previous_total_tokens=previous.total_tokens,
        tokens_change_ratio=_change(current.total_tokens, previous.total_tokens),
        cost_per_request=current.average_cost_per_request, cost_per_1k_tokens=current.average_cost_per_1k_tokens,
        active_users=len(users), user_cost=user_cost, cost_per_active_user=_ratio(user_cost, len(users)))


def _difference(now, before) -> Decimal | None:
    return None if now is None or before is None else _CONTEXT.subtract(Decimal(now), Decimal(before))


def _change(now, before) -> Decimal | None:
    """(now - before) / before; None when there was nothing before to compare with."""
    if now is None or not before:
        return None
    return _ratio(_CONTEXT.subtract(Decimal(now), Decimal(before)), before)


def _ratio(part, whole) -> Decimal | None:
    if part is None or not whole:
        return None
    return _CONTEXT.divide(Decimal(part), Decimal(whole)).quantize(_PLACES, context=_CONTEXT)


def _title(period: ReportPeriod, scope: ReportScope) -> str:
    title = f"LLM costs, {period.label}"
    return title if scope.dimension is None else f"{title}: {scope.label}"
