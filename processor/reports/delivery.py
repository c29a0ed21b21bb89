"""A report as one message for every channel: email gets the HTML with its charts inside the
message (cid: images), Slack the headline and a link to the built-in pages (an incoming
webhook cannot carry images), a webhook the report's JSON."""
from __future__ import annotations

import hashlib

from .. import format as fmt
from ..notify import Alert, InlineImage
from .charts import Chart
from .model import Report
from .render import render_html, report_charts, report_document


def report_message(report: Report, key: str, chart_list: list[Chart] | None = None) -> Alert:
    chart_list = report_charts(report) if chart_list is None else chart_list
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    cids = {chart.name: f"{chart.name}.{tag}@llmledger" for chart in chart_list}
    html = render_html(report, chart_list, image_source=lambda chart: f"cid:{cids[chart.name]}")
    images = tuple(InlineImage(cid=cids[c.name], mime=c.mime, data=c.data, filename=f"{c.name}.png")
                   for c in chart_list)
    return Alert(key=key, kind="report", title=report.title, summary=summary_line(report), severity="info",
                 fields=tuple(summary_fields(report)), payload={"report": report_document(report)}, html=html,
                 images=images, link=report.links.get("overview", ""))


def summary_line(report: Report) -> str:
    head = report.headline
    had_before = head.previous_cost not in (None, 0)
    line = (f"{fmt.money(head.cost)} spent on {fmt.count(head.requests, 'LLM call')} "
            f"({fmt.change(head.change_ratio, had_before=had_before)} vs {fmt.money(head.previous_cost)} "
            f"{report.period.previous_label}).")
    over = [u.budget.id for u in report.budgets if u.status.exceeded]
    if over:
        line += f" Over budget: {', '.join(over)}."
    found = len(report.anomalies) + len(report.new_models) + len(report.new_apps)
    if found:
        line += f" {fmt.count(found, 'anomaly', 'anomalies')} and new arrivals to look at."
    return line


def summary_fields(report: Report) -> list[tuple[str, str]]:
    head = report.headline
    fields = [("Spend", fmt.money(head.cost)), ("Change", fmt.signed_money(head.change)),
              ("Requests", fmt.tokens(head.requests)), ("Tokens", fmt.tokens(head.total_tokens)),
              ("Per request", fmt.money(head.cost_per_request))]
    for dimension in ("model", "app"):
        top = report.breakdown(dimension)
        if top is not None and top.rows:
            first = top.rows[0]
            fields.append((f"Top {dimension}", f"{fmt.label(first.key)} ({fmt.percent(first.share)})"))
    fields.append(("Saved", fmt.money(report.saved)))
    if report.data_quality.unpriced_requests:
        fields.append(("Unpriced calls", fmt.tokens(report.data_quality.unpriced_requests)))
    return fields
