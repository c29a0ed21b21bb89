"""A report as JSON (exact figures, for machines), HTML (for people and email, with its charts)
and Markdown, plus the charts themselves.

The JSON keeps every amount as exact decimal text and every ratio as a fraction; the
HTML and Markdown go through `llmledger.processor.format` (money, tokens, percentages,
plurals; n/a for what is unknown).
"""
from __future__ import annotations

import base64
import functools
import json
from datetime import datetime, timezone
from importlib import resources
from typing import Callable

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .. import format as fmt
from ..query import json_safe
from . import charts
from .model import Report, unpriced
from .quick_wins import CheaperModel

JSON_VERSION = 1


def report_charts(report: Report, image_format: str = "png") -> list[charts.Chart]:
    """The report's charts that have something to show, in the order the report shows them."""
    by_model, by_app = report.breakdown("model"), report.breakdown("app")
    drawn = [
        ("trend", f"Spend per {report.trend.granularity} by model", charts.trend_chart(report.trend),
         f"Stacked bars of the spend per {report.trend.granularity}, split by model."),
        ("share", "Cost share by model", by_model and charts.share_chart(by_model),
         "Each model's share of the cost: " + _shares(by_model)),
        ("tokens", "Tokens in and out by app", by_app and charts.tokens_chart(by_app),
         "Input and output tokens of each app."),
        ("cost_requests", "Cost against requests by app", by_app and charts.cost_requests_chart(by_app),
         "Each app's cost plotted against its number of requests."),
        ("burn_down", "Budget burn-down", charts.burn_down_chart(report.budgets),
         "Each budget's cumulative spend in its window against its limit, with the projection to the window's end."),
    ]
    return [charts.Chart(name=name, title=title, alt=alt, data=charts.render(figure, image_format),
                         mime=charts.mime_of(image_format))
            for name, title, figure, alt in drawn if figure is not None]


def render_json(report: Report) -> str:
    return json.dumps(report_document(report), indent=2, ensure_ascii=False)


def render_markdown(report: Report) -> str:
    return _environment().get_template("report.md").render(report=report, **_helpers(report))


def render_html(report: Report, chart_list: list[charts.Chart] | None = None,
                image_source: Callable[[charts.Chart], str] | None = None) -> str:
    """The HTML page. Charts are shown from `image_source(chart)`: by default data: URLs, so
    that the file shows them wherever it is opened; an email passes cid: URLs instead."""
    chart_list = report_charts(report) if chart_list is None else chart_list
    source = image_source or data_url
    return _environment().get_template("report.html").render(
        report=report, charts={c.name: c for c in chart_list}, src=source, **_helpers(report))


def data_url(chart: charts.Chart) -> str:
    return f"data:{chart.mime};base64,{base64.b64encode(chart.data).decode()}"


def report_document(report: Report) -> dict:
    """The report as JSON: the figures exact (money and ratios as decimal text)."""
    period, head = report.period, report.headline
    return json_safe({
        "report": "llmledger cost report",
        "version": JSON_VERSION,
        "title": report.title,
        "generated_at": report.generated_at,
        "scope": {"dimension": report.scope.dimension, "value": report.scope.value or None},
        "period": {"kind": period.kind, "timezone": period.tz, "label": period.label,
                   "first_day": period.first_day, "last_day": period.last_day, "start": period.start,
                   "end": period.end, "previous_first_day": period.previous_first_day,
                   "previous_last_day": period.previous_last_day, "previous_start": period.previous_start,
                   "previous_end": period.previous_end},
        "headline": {name: getattr(head, name) for name in head.__dataclass_fields__},
        "movers": {m.dimension: {"risers": [_mover(x) for x in m.risers], "fallers": [_mover(x) for x in m.fallers]}
                   for m in report.movers},
        "breakdowns": {b.dimension: {"rows": [_share_row(r) for r in b.rows],
                                     "others": None if b.others is None else _spend(b.others),
                                     "total": _spend(b.total)} for b in report.breakdowns},
        "trend": {"granularity": report.trend.granularity, "dimension": report.trend.dimension,
                  "buckets": list(report.trend.buckets), "totals": list(report.trend.totals),
                  "requests": list(report.trend.requests),
                  "series": [{"key": s.key, "costs": list(s.costs)} for s in report.trend.series]},
        "budgets": [_budget(use) for use in report.budgets],
        "anomalies": [_anomaly(a) for a in report.anomalies],
        "new_models": [{"model": a.model, "first_seen": a.at, "requests": a.requests, "cost": a.observed}
                       for a in report.new_models],
        "new_apps": [{"app": a.app, "first_seen": a.at, "requests": a.requests, "cost": a.observed}
                     for a in report.new_apps],
        "savings": {"saved": report.saved,
                    "strategies": [{"strategy": row.key, "calls": row.calls, "unvalued_calls": row.unvalued_calls,
                                    "saved": row.saved, "saved_share": row.saved_share} for row in report.savings]},
        "cache": {name: getattr(report.cache, name) for name in report.cache.__dataclass_fields__},
        "data_quality": {
            "requests": report.data_quality.requests, "unpriced_requests": report.data_quality.unpriced_requests,
            "unpriced_models": [{"provider": m.provider, "model": m.model, "calls": m.unpriced_requests}
                                for m in report.data_quality.unpriced_models],
            "unreported_usage_calls": report.data_quality.unreported_calls,
            "unreported_usage": [{"provider": u.provider, "model": u.model, "calls": u.calls}
                                 for u in report.data_quality.unreported_usage]},
        "quick_wins": [_quick_win(w) for w in report.quick_wins],
        "links": report.links,
    })


def _spend(spend) -> dict:
    return {name: getattr(spend, name) for name in ("cost", "requests", "unpriced_requests", "errors", "input_tokens",
                                                    "output_tokens", "cache_read_tokens", "cache_write_tokens",
                                                    "reasoning_tokens", "total_tokens")}


def _share_row(row) -> dict:
    return {"key": row.key, "share": row.share, **_spend(row)}


def _mover(mover) -> dict:
    return {"key": mover.key, "cost": mover.cost, "previous_cost": mover.previous_cost, "change": mover.change,
            "change_ratio": mover.change_ratio}


def _budget(use) -> dict:
    budget, status = use.budget, use.status
    return {"id": budget.id, "scope": budget.scope, "value": budget.value or None, "window": budget.window.kind,
            "timezone": budget.window.timezone, "limit": budget.limit, "hard": budget.hard,
            "thresholds": list(budget.thresholds), "spend": use.spend, "month_to_date": use.month_to_date,
            "window_start": _moment(status.window_start), "window_end": _moment(status.window_end),
            "window_spend": status.spend, "percent": status.percent, "projected_spend": status.projected_spend,
            "projected_breach_at": _moment(status.projected_breach_at), "exceeded": status.exceeded,
            "thresholds_crossed": list(use.thresholds_crossed), "refused_calls": use.refused_calls}


def _anomaly(anomaly) -> dict:
    return {"kind": anomaly.kind, "app": anomaly.app or None, "model": anomaly.model or None, "at": anomaly.at,
            "observed": anomaly.observed, "baseline": anomaly.baseline, "threshold": anomaly.threshold,
            "score": anomaly.score, "requests": anomaly.requests, "trace_ids": list(anomaly.trace_ids),
            "description": anomaly.description}


def _quick_win(win) -> dict:
    common = {"kind": win.kind, "what_if": True, "saving": win.saving}
    if isinstance(win, CheaperModel):
        return {**common, "from_model": win.from_model, "to_model": win.to_model, "calls": win.calls,
                "actual_cost": win.actual_cost, "what_if_cost": win.what_if_cost}
    return {**common, "provider": win.provider, "model": win.model, "uncached_calls": win.uncached_calls,
            "uncached_input_tokens": win.uncached_input_tokens, "input_tokens": win.input_tokens,
            "input_price": win.input_price, "cache_read_price": win.cache_read_price}


def _moment(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


def _shares(top) -> str:
    if top is None:
        return ""
    return "; ".join(f"{fmt.label(r.key)} {fmt.percent(r.share)}" for r in top.rows) + "."


STRATEGY_LABELS = {"exact_cache": "Response cache (exact)", "semantic_cache": "Response cache (semantic)",
                   "routing": "Routing to another model", "fallback": "Fallbacks",
                   "prompt_cache": "Provider prompt caching (reads and write premiums)"}


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    """Jinja2 with the formatting module's functions as filters."""
    env = Environment(loader=FileSystemLoader(str(resources.files(__package__).joinpath("templates"))),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                      undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters.update(money=fmt.money, tokens=fmt.tokens, percent=fmt.percent, change=fmt.change, label=fmt.label,
                       thresholds=fmt.thresholds, signed_money=fmt.signed_money, money_of=_money_of,
                       share_of=_share_of)
    env.globals.update(count=fmt.count, strategy_label=lambda key: STRATEGY_LABELS.get(key, key))
    return env


def _money_of(spend) -> str:
    """The cost of a group of calls: n/a when none of them is priced (0 would be a lie)."""
    return fmt.NOT_AVAILABLE if unpriced(spend) else fmt.money(spend.cost)


def _share_of(row) -> str:
    return fmt.NOT_AVAILABLE if unpriced(row) else fmt.percent(row.share)


def _helpers(report: Report) -> dict:
    zone = report.period.zone
    return {"local": lambda value: fmt.moment(value, zone), "epoch": _moment}
