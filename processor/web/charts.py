"""Chart data for the pages' one charting library (uPlot, vendored in static/).

A chart travels as JSON inside the page: x positions in epoch seconds, and per series the
exact amounts as text (the browser parses them only to draw) with the labels people read,
formatted here by the one formatting module. So a hover shows what the tables show.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from markupsafe import Markup

from .. import format as fmt


def epoch(moment: datetime | date, zone: ZoneInfo) -> int:
    """A bucket's position: an instant, or a calendar date's midnight in `zone`."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=zone)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def series(label: str, amounts, *, style: str = "area", money: bool = True) -> dict:
    values = [None if a is None else format(Decimal(a), "f") for a in amounts]
    shown = [fmt.money(a) if money else fmt.number(a) for a in amounts]
    return {"label": label, "values": values, "display": shown, "style": style}


def chart(kind: str, x: list[int], all_series: list[dict], *, step: str = "day", title: str = "") -> Markup:
    """The JSON a `<script type="application/json" class="chart">` carries. `kind`:
    "stacked" (areas stacked on each other) or "lines"; `step` says how to label the x axis."""
    body = {"kind": kind, "x": x, "series": all_series, "step": step, "title": title}
    # "</" cannot end the script element early, whatever a label says.
    return Markup(json.dumps(body, separators=(",", ":")).replace("</", "<\\/"))
