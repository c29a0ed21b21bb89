"""The report's charts as PNG or SVG, drawn without a display or a browser.

matplotlib's Agg renderer draws them, through Figure objects (not pyplot, whose global state
does not belong in a service's threads). Text is set in DejaVu Sans, the font matplotlib
ships inside its own package, so charts read the same on a host without any fonts; SVG
keeps its glyphs as paths for the same reason.

Positions on the axes are floats (a plot is a drawing); every figure written on a chart is
formatted from the exact Decimal by `llmledger.processor.format`.
"""
from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Sequence

import matplotlib
import matplotlib.dates
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .. import format as fmt
from ..analytics import OTHER, BudgetUse, StackedTrend, TopSpenders
from .model import unpriced

FONT = "DejaVu Sans"
FORMATS = ("png", "svg")
WIDTH_PX = 640  # as shown in a report; drawn at twice the pixels for sharp screens
_DPI = 200
_SIZE = (WIDTH_PX / 100, 2.9)  # inches at 100 px each
# Okabe & Ito's palette, readable with every common colour-vision deficiency; grey is "(other)".
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_OTHER_COLOUR = "#A0A0A0"
_STYLE = {
    "font.family": "sans-serif", "font.sans-serif": [FONT], "font.size": 8,
    "axes.titlesize": 10, "axes.titleweight": "bold", "axes.titlelocation": "left",
    "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#888888",
    "axes.grid": True, "grid.color": "#E5E5E5", "grid.linewidth": 0.6, "axes.axisbelow": True,
    "legend.frameon": False, "legend.fontsize": 7, "svg.fonttype": "path",
    "figure.facecolor": "white", "axes.facecolor": "white",
}


@dataclass(frozen=True)
class Chart:
    name: str  # trend, share, tokens, cost_requests, burn_down
    title: str
    alt: str  # what the chart says, for readers that do not show images
    data: bytes
    mime: str  # image/png or image/svg+xml


def _styled(draw):
    """Draw inside the charts' style: text takes its font and size when it is made."""
    @functools.wraps(draw)
    def styled(*args, **kwargs):
        with matplotlib.rc_context(_STYLE):
            return draw(*args, **kwargs)
    return styled


def font_path() -> str:
    """The font file the charts are set in: the one inside matplotlib's own package."""
    return font_manager.findfont(font_manager.FontProperties(family=FONT), fallback_to_default=False)


@_styled
def trend_chart(trend: StackedTrend, title: str = "") -> Figure | None:
    if not any(trend.totals):
        return None
    figure, axes = _figure()
    positions = range(len(trend.buckets))
    bottom = [0.0] * len(trend.buckets)
    for index, series in enumerate(trend.series):
        if not any(series.costs):  # an unpriced model's calls add no priced spend: no bar, no legend entry
            continue
        heights = [float(cost) for cost in series.costs]
        axes.bar(positions, heights, bottom=bottom, width=0.8, color=_colour(series.key, index),
                 label=fmt.label(series.key))
        bottom = [b + h for b, h in zip(bottom, heights)]
    axes.set_xticks(list(positions), [_bucket_label(b, trend.granularity) for b in trend.buckets])
    axes.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))  # more labels run into each other
    axes.yaxis.set_major_formatter(FuncFormatter(_money_tick))
    axes.grid(axis="x", visible=False)
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes.set_title(title or f"Spend per {trend.granularity}, by {trend.dimension or 'total'}")
    return figure


@_styled
def share_chart(top: TopSpenders, title: str = "") -> Figure | None:
    rows = _with_others(top)
    if not rows or top.total.cost in (None, 0):
        return None
    figure, axes = _figure(height=0.35 + 0.24 * len(rows))
    labels = [label for label, _, _ in rows]
    costs = [cost for _, cost, _ in rows]
    positions = range(len(rows))
    axes.barh(positions, [float(c) for c in costs], color=[_colour(label, i) for i, label in enumerate(labels)])
    axes.set_yticks(list(positions), labels)
    axes.invert_yaxis()
    axes.xaxis.set_major_formatter(FuncFormatter(_money_tick))
    axes.grid(axis="y", visible=False)
    for position, (_, cost, share) in zip(positions, rows):
        axes.annotate(f" {fmt.percent(share)} · {fmt.money(cost)}", (float(cost), position), va="center",
                      fontsize=7, annotation_clip=False)
    axes.set_xlim(0, float(max(costs)) * 1.35)
    axes.set_title(title or f"Cost share by {top.dimension}")
    return figure


@_styled
def tokens_chart(top: TopSpenders, title: str = "") -> Figure | None:
    rows = [row for row in top.rows if row.total_tokens]
    if not rows:
        return None
    figure, axes = _figure(height=0.35 + 0.3 * len(rows))
    positions = range(len(rows))
    axes.barh([p - 0.2 for p in positions], [r.input_tokens for r in rows], height=0.4, color=_COLOURS[0],
              label="input (incl. cache)")
    axes.barh([p + 0.2 for p in positions], [r.output_tokens for r in rows], height=0.4, color=_COLOURS[1],
              label="output (incl. reasoning)")
    axes.set_yticks(list(positions), [fmt.label(r.key) for r in rows])
    axes.invert_yaxis()
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _short_count(value)))
    axes.grid(axis="y", visible=False)
    axes.legend(loc="lower right")
    axes.set_title(title or f"Tokens in and out by {top.dimension}")
    return figure


@_styled
def cost_requests_chart(top: TopSpenders, title: str = "") -> Figure | None:
    rows = [row for row in top.rows if row.requests and not unpriced(row)]  # an unknown cost is not $0
    if not rows:
        return None
    figure, axes = _figure()
    for index, row in enumerate(rows):
        cost = float(row.cost or 0)
        axes.scatter([row.requests], [cost], s=36, color=_colour(row.key, index), zorder=3)
        axes.annotate(f" {fmt.label(row.key)}", (row.requests, cost), fontsize=7, va="center")
    axes.set_xlim(0, max(r.requests for r in rows) * 1.25)
    axes.set_ylim(0, max(float(r.cost or 0) for r in rows) * 1.15 or 1)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _short_count(value)))
    axes.yaxis.set_major_formatter(FuncFormatter(_money_tick))
    axes.set_xlabel("requests")
    axes.set_ylabel("cost")
    axes.set_title(title or f"Cost against requests by {top.dimension}")
    return figure


@_styled
def burn_down_chart(uses: Sequence[BudgetUse], title: str = "") -> Figure | None:
    """One panel per budget (the first four), one under the other: a budget's name and window
    need the whole width."""
    uses = [use for use in uses if use.burn_down][:4]
    if not uses:
        return None
    figure, panels = _figure(height=0.4 + 1.9 * len(uses), rows=len(uses))
    for axes, use in zip(panels if len(uses) > 1 else [panels], uses):
        status, budget = use.status, use.budget
        times = [point.at for point in use.burn_down]
        axes.plot(times, [float(point.spend) for point in use.burn_down], color=_COLOURS[0], linewidth=1.6,
                  label="spend")
        axes.axhline(float(budget.limit), color=_COLOURS[5], linewidth=1, label=f"limit {fmt.money(budget.limit)}")
        if status.window_end is not None and status.projected_spend is not None:
            end = datetime.fromtimestamp(status.window_end, times[0].tzinfo)
            axes.plot([times[-1], end], [float(use.burn_down[-1].spend), float(status.projected_spend)],
                      color=_COLOURS[0], linestyle="--", linewidth=1, label="projection")
        axes.yaxis.set_major_formatter(FuncFormatter(_money_tick))
        axes.xaxis.set_major_locator(matplotlib.dates.AutoDateLocator(minticks=3, maxticks=7))
        axes.xaxis.set_major_formatter(FuncFormatter(_date_tick))
        axes.set_ylim(bottom=0)
        axes.set_title(f"{budget.id}: {fmt.percent(status.percent / 100)} of {fmt.money(budget.limit)}, "
                       f"{budget.window.describe()}", fontsize=8)
        axes.legend(loc="upper left")
    figure.suptitle(title or "Budget burn-down", x=0.01, ha="left", fontsize=10, fontweight="bold")
    return figure


def render(figure: Figure, image_format: str = "png") -> bytes:
    if image_format not in FORMATS:
        raise ValueError(f"unknown image format {image_format!r}: use {' or '.join(FORMATS)}")
    buffer = io.BytesIO()
    with matplotlib.rc_context(_STYLE):
        FigureCanvasAgg(figure)
        figure.savefig(buffer, format=image_format, dpi=_DPI, metadata=_METADATA[image_format])
    return buffer.getvalue()


_METADATA = {"png": {"Software": None}, "svg": {"Date": None}}  # the same chart gives the same bytes


def mime_of(image_format: str) -> str:
    return "image/svg+xml" if image_format == "svg" else "image/png"


def _figure(height: float | None = None, *, rows: int = 1):
    """A figure the report's width, with one axes (or a list of `rows` axes one under the other)."""
    figure = Figure(figsize=(_SIZE[0], max(height or _SIZE[1], 1.2)), layout="constrained")
    panels = [row[0] for row in figure.subplots(rows, 1, squeeze=False)]
    return figure, (panels if rows > 1 else panels[0])


def _with_others(top: TopSpenders) -> list[tuple[str, Decimal, Decimal | None]]:
    """(label, cost, share) of the priced values, and of the others together."""
    rows = [(fmt.label(row.key), row.cost, row.share) for row in top.rows if not unpriced(row)]
    if top.others is not None and top.others.cost and top.total.cost:
        rows.append((OTHER, top.others.cost, top.others.cost / top.total.cost))
    return rows


def _colour(key: str, index: int) -> str:
    return _OTHER_COLOUR if key == OTHER else _COLOURS[index % len(_COLOURS)]


def _bucket_label(bucket: date | datetime, granularity: str) -> str:
    if granularity == "hour":
        return bucket.strftime("%H:%M")
    return f"{bucket.strftime('%b')} {bucket.day}"


def _money_tick(value: float, _position=None) -> str:
    return fmt.money(Decimal(repr(round(float(value), 6))))


def _date_tick(value: float, _position=None) -> str:
    moment = matplotlib.dates.num2date(value)
    return f"{moment.strftime('%b')} {moment.day}"


def _short_count(value: float) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.0f}"
