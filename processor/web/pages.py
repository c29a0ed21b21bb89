"""The pages: each function reads the analytics API for one page and returns the template
to render with its context. Presentation only: no SQL here, no arithmetic on money
beyond what a template shows side by side.
"""
from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable

from .. import analytics
from .. import format as fmt
from ..analytics.dimensions import IN_HOURLY_ROLLUP, parse_dimension
from ..analytics.prices import TIERS
from ..analytics.sources import MEASURES, add_costs
from .charts import chart, epoch, series
from .view import FILTERS, BadRequest, View, Viewer

TOP_DIMENSIONS = ("model", "app", "team", "feature", "user")
STACK_DIMENSIONS = ("model", "app", "provider", "team", "feature", "environment", "tenant")
BREAKDOWN_DIMENSIONS = FILTERS  # and tag:<name>
SORTABLE = ("key", "cost", "requests", "unpriced_requests", "errors", "input_tokens", "output_tokens",
            "cache_read_tokens", "total_tokens")
STACKED = 6  # values of the overview's trend stacked apart from "(other)"
MATRIX_COLUMNS = 8
TABLE_ROWS = 500  # rows of a breakdown's table; the CSV has every one  # columns of a two-dimension table beyond which values are summed as "(other)"


@dataclass
class PageContext:
    """What every page is built from."""

    run: analytics.Runner
    view: View
    viewer: Viewer
    budget_statuses: Callable[[], list]  # BudgetService.status
    pricer: object  # a Pricer, for the prices page
    pricer_lock: threading.Lock


@dataclass(frozen=True)
class Page:
    template: str
    context: dict


def overview(page: PageContext) -> Page:
    view = page.view
    run = page.run
    stack_by = _dimension_param(view, "stack", "model", allowed=STACK_DIMENSIONS)
    periods = analytics.period_spend(run, view.now, tz=view.tz, filters=view.filters)
    totals = analytics.summary(run, view.start, view.end, filters=view.filters)
    # A breakdown by user over partial days would read every call of the range: none then.
    dimensions = [d for d in TOP_DIMENSIONS if d != "user" or _user_rollup_fits(view)]
    # One query for the dimensions of the cost rollups, one for users (a rollup of their own);
    # one more row than shown: the trend stacks the top STACKED of its dimension.
    biggest = analytics.top_spenders_of(run, [d for d in dimensions if d != "user"], view.start, view.end,
                                        limit=STACKED, filters=view.filters)
    if "user" in dimensions:
        biggest["user"] = analytics.top_spenders(run, "user", view.start, view.end, limit=STACKED,
                                                 filters=view.filters)
    tops = {dimension: analytics.with_share(biggest[dimension], totals, 5, dimension) for dimension in dimensions}
    trend = analytics.stacked_trend(run, view.granularity, view.start, view.end, dimension=stack_by,
                                    filters=view.filters, tz=view.tz, top=STACKED,
                                    breakdown=biggest.get(stack_by))
    unpriced = analytics.unpriced_models(run, view.start, view.end, filters=_rollup_filters(view))
    savings = analytics.savings_by(run, "strategy", view.start, view.end, filters=view.filters)
    return Page("overview.html", {
        "periods": periods, "totals": totals, "trend_chart": _trend_chart(trend, view), "stack_by": stack_by,
        "stack_dimensions": STACK_DIMENSIONS, "tops": tops, "unpriced": unpriced, "savings": _savings(savings),
    })


STRATEGY_NAMES = {"exact_cache": "response cache", "semantic_cache": "semantic cache", "routing": "routing",
                  "fallback": "fallbacks", "prompt_cache": "prompt caching"}


def _savings(rows: list) -> dict:
    """What the strategies saved together, and each one (the share of the bill it avoided)."""
    shares = [r.saved_share for r in rows]  # each over the same whole: the bill without any strategy
    return {
        "saved": sum((r.saved for r in rows), Decimal(0)),
        "share": sum(shares, Decimal(0)) if rows and None not in shares else None,
        "unvalued_calls": sum(r.unvalued_calls for r in rows),
        "strategies": [(STRATEGY_NAMES.get(r.key, r.key.replace("_", " ")), r) for r in rows],
    }


def breakdown(page: PageContext) -> Page:
    view = page.view
    by, split = _breakdown_dimensions(view)
    sort, descending = _sort(view)
    rows = analytics.cost_by(page.run, by, view.start, view.end, filters=view.filters)
    total = add_costs(r.cost for r in rows)
    trend = analytics.stacked_trend(page.run, view.granularity, view.start, view.end, dimension=by,
                                    filters=view.filters, tz=view.tz, top=8, breakdown=rows)
    rows = sorted(rows, key=lambda r: _sort_key(r, sort), reverse=descending)
    # A table of thousands of users takes longer to render than to query: the first rows in
    # the chosen order are shown, the CSV download has them all.
    rows, more_rows = rows[:TABLE_ROWS], max(len(rows) - TABLE_ROWS, 0)
    matrix = None
    if split:
        matrix = _matrix(analytics.cost_matrix(page.run, by, split, view.start, view.end, filters=view.filters))
    return Page("breakdown.html", {
        "by": by, "by_param": filter_parameter(by), "split": split, "rows": rows, "more_rows": more_rows,
        "total": total, "sort": sort, "descending": descending,
        "matrix": matrix, "trend_chart": _trend_chart(trend, view), "dimensions": BREAKDOWN_DIMENSIONS,
    })


def breakdown_csv(page: PageContext) -> str:
    """The breakdown's rows with their exact values, one column per measure."""
    view = page.view
    by, split = _breakdown_dimensions(view)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if split:
        matrix = analytics.cost_matrix(page.run, by, split, view.start, view.end, filters=view.filters)
        writer.writerow([by, split, *MEASURES])
        writer.writerows([[c.row, c.column, *(getattr(c, m) for m in MEASURES)] for c in matrix.cells])
    else:
        writer.writerow([by, *MEASURES])
        rows = analytics.cost_by(page.run, by, view.start, view.end, filters=view.filters)
        writer.writerows([[r.key, *(getattr(r, m) for m in MEASURES)] for r in rows])
    return out.getvalue()


def calls(page: PageContext) -> Page:
    view = page.view
    limit = _int_param(view, "limit", 50, 1, analytics.calls.MOST_CALLS)
    found = analytics.most_expensive_calls(page.run, view.start, view.end, limit=limit, filters=view.filters)
    return Page("calls.html", {"calls": found, "limit": limit})


def trace(page: PageContext, trace_id: str) -> Page | None:
    tree = analytics.trace_tree(page.run, trace_id, filters=page.viewer.forced_filters() or None)
    if tree is None:
        return None
    start = tree.start
    rows = []
    for span in tree.spans:
        offset = (span.start - start).total_seconds() * 1e9 if start else 0
        rows.append({"span": span, "offset_ns": int(offset),
                     "left": _percent_of(offset, tree.duration_ns), "width": _percent_of(span.duration_ns,
                                                                                         tree.duration_ns)})
    return Page("trace.html", {"tree": tree, "rows": rows})


def budgets(page: PageContext) -> Page:
    now = page.view.now.timestamp()
    statuses = [s for s in page.budget_statuses() if _may_see_budget(page.viewer, s.budget)]
    details = analytics.budget_details(page.run, statuses, now)
    return Page("budgets.html", {"details": details,
                                 "charts": {d.status.budget.id: _burn_chart(d, page.view) for d in details}})


def anomalies(page: PageContext) -> Page:
    view = page.view
    if page.viewer.tenant:
        return Page("anomalies.html", {"found": [], "charts": {}, "hidden": True})
    found = analytics.find_anomalies(page.run, view.start, view.end)
    # Detection looks at app/model pairs across everything; the app and model filters pick among them.
    for name in ("app", "model"):
        wanted = view.filters.get(name)
        if wanted:
            wanted = {wanted} if isinstance(wanted, str) else set(wanted)
            found = [a for a in found if getattr(a, name) in wanted or getattr(a, name) == ""]
    charts = {}
    for index, anomaly in enumerate(found):
        spike = analytics.spike_chart(page.run, anomaly, now=view.now)
        if spike is not None:
            charts[index] = _spike_chart(spike, view)
    return Page("anomalies.html", {"found": found, "charts": charts, "hidden": False})


def prices(page: PageContext) -> Page:
    view = page.view
    model = view.first("price_model").strip()
    provider = view.first("price_provider").strip()
    tier = view.first("tier")
    if tier not in TIERS:
        raise BadRequest(f"unknown tier {tier!r}: use one of standard, batch, flex, priority")
    at = _date_param(view, "at") or view.now
    usage = {name: _int_param(view, name, 0, 0, 10**12) for name in
             ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")}
    in_force = history = estimate = None
    if model:
        with page.pricer_lock:
            history = analytics.price_history(page.pricer, model, provider=provider, until=at, tier=tier)
            in_force = history[0]  # the price at `at`, over its whole period
            if any(usage.values()):
                estimate = analytics.estimate_cost(page.pricer, model, provider=provider, at=at, tier=tier,
                                                   operation=view.first("operation") or "chat", **usage)
    seen = analytics.cost_matrix(page.run, "model", "provider", view.start, view.end,
                                 filters=_rollup_filters(view)).cells
    unpriced = analytics.unpriced_models(page.run, view.start, view.end, filters=_rollup_filters(view))
    return Page("prices.html", {"model": model, "provider": provider, "tier": tier, "at": at, "usage": usage,
                                "in_force": in_force, "history": history, "estimate": estimate, "seen": seen,
                                "unpriced": unpriced, "tiers": TIERS, "rate_names": _RATE_NAMES})


_RATE_NAMES = (("input", "Input"), ("cache_read", "Cache read"), ("cache_write", "Cache write"),
               ("output", "Output"), ("reasoning", "Reasoning"))


# --- charts -----------------------------------------------------------------------------------


def _trend_chart(trend: analytics.StackedTrend, view: View):
    x = [epoch(b, view.zone) for b in trend.buckets]
    drawn = [series(fmt.label(s.key), s.costs) for s in trend.series]
    return chart("stacked", x, drawn, step=trend.granularity, title="Spend")


def _burn_chart(detail: analytics.BudgetDetail, view: View):
    status = detail.status
    budget = status.budget
    start = status.window_start
    now = int(view.now.timestamp())
    points = [(start, Decimal(0))] + [(int(p.at.timestamp()), p.spend) for p in detail.burn_down if p.at.timestamp() < now]
    points.append((now, status.spend))  # the live figure, as the status shows it
    end = status.window_end or points[-1][0]
    x = sorted({p[0] for p in points} | {end})
    spent = dict(points)
    spend_line = [spent.get(t) for t in x]
    limit_line = [budget.limit for _ in x]
    drawn = [series("Spend", spend_line, style="line"), series("Limit", limit_line, style="limit")]
    if status.projected_spend is not None and status.window_end:
        last = points[-1]
        projection = [None] * len(x)
        projection[x.index(last[0])] = last[1]
        projection[-1] = status.projected_spend
        drawn.append(series("Projected", projection, style="dashed"))
    return chart("lines", x, drawn, step="hour" if end - start <= 2 * 86400 else "day", title="Burn-down")


def _spike_chart(spike: analytics.SpikeChart, view: View):
    x = [epoch(b, view.zone) for b in spike.buckets]
    drawn = [series("Spend", spike.costs, style="bars"),
             series("Median before", [spike.baseline] * len(x), style="dashed")]
    if spike.threshold is not None:
        drawn.append(series("Fence", [spike.threshold] * len(x), style="limit"))
    return chart("lines", x, drawn, step=spike.granularity, title="Spend around the spike")


# --- helpers ------------------------------------------------------------------------------------


def filter_parameter(dimension: str) -> str:
    """The keyword View.link takes for a filter on `dimension` ("tag:tier" -> tag__tier)."""
    return "tag__" + dimension[4:] if dimension.startswith("tag:") else dimension


def _matrix(matrix: analytics.CostMatrix) -> dict:
    """The table of a two-dimension breakdown: the biggest columns, the rest as "(other)"."""
    shown = [c.key for c in matrix.columns[:MATRIX_COLUMNS]]
    rest = {c.key for c in matrix.columns[MATRIX_COLUMNS:]}
    cells: dict[tuple[str, str], analytics.Spend] = {}
    for cell in matrix.cells:
        column = cell.column if cell.column not in rest else analytics.OTHER
        before = cells.get((cell.row, column))
        cells[(cell.row, column)] = cell if before is None else analytics.Spend(
            cost=add_costs((before.cost, cell.cost)),
            **{name: getattr(before, name) + getattr(cell, name) for name in MEASURES if name != "cost"})
    columns = shown + ([analytics.OTHER] if rest else [])
    return {"columns": columns, "rows": matrix.rows, "cells": cells, "row_dimension": matrix.row_dimension,
            "column_dimension": matrix.column_dimension}


def _breakdown_dimensions(view: View) -> tuple[str, str | None]:
    by = _dimension_param(view, "by", "model")
    split = view.first("split") or None
    if split is not None:
        split = _dimension_param(view, "split", "")
        if split == by:
            raise BadRequest("choose two different dimensions to break down by")
    return by, split


def _dimension_param(view: View, name: str, default: str, allowed=None) -> str:
    value = view.first(name, default)
    try:
        dimension = parse_dimension(value).name
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None
    if allowed is not None and dimension not in allowed:
        raise BadRequest(f"{name}: use one of {', '.join(allowed)}")
    return dimension


def _sort(view: View) -> tuple[str, bool]:
    sort = view.first("sort", "cost")
    if sort not in SORTABLE:
        raise BadRequest(f"sort: use one of {', '.join(SORTABLE)}")
    return sort, view.first("order", "asc" if sort == "key" else "desc") != "asc"


def _sort_key(row, sort: str):
    if sort == "key":
        return row.key
    value = getattr(row, sort)
    return (value is not None, value or 0)  # an unpriced cost below every known one


def _int_param(view: View, name: str, default: int, lowest: int, highest: int) -> int:
    text = view.first(name).replace(",", "").replace("_", "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name}: a whole number, please (got {text!r})") from None
    if not lowest <= value <= highest:
        raise BadRequest(f"{name}: from {lowest:,} to {highest:,}, got {value:,}")
    return value


def _date_param(view: View, name: str) -> datetime | None:
    """A date (its 00:00 UTC, as `llmledger prices show --at` reads it) or an ISO date-time."""
    text = view.first(name).strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: a date such as 2025-03-01, got {text!r}") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _user_rollup_fits(view: View) -> bool:
    """The daily rollup by user answers whole UTC days: the range in UTC, or a zone at UTC then."""
    return all(m.astimezone(view.zone).utcoffset() == timedelta(0) for m in (view.start, view.end))


def _rollup_filters(view: View) -> dict:
    """The filters the hourly rollup can apply (unpriced models are counted there)."""
    return {name: value for name, value in view.filters.items() if name in IN_HOURLY_ROLLUP}


def _may_see_budget(viewer: Viewer, budget) -> bool:
    if viewer.tenant:
        return budget.scope == "tenant" and budget.value == viewer.tenant
    if viewer.app:
        return budget.scope == "app" and budget.value == viewer.app
    return True


def _percent_of(part: float, whole: float) -> float:
    return 0.0 if whole <= 0 else round(min(max(part / whole, 0.0), 1.0) * 100, 3)

