"""The report as people read it: HTML with its charts inside (decoded here: real PNGs, the
right size, not blank, their text drawn in the font that ships with matplotlib), Markdown,
and the charts alone as PNG and SVG. The run leaves the HTML and PNGs in the artifacts folder
(printed at the start) to be looked at."""
from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ElementTree
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import matplotlib
import pytest
from PIL import Image

from llmledger.processor import format as fmt
from llmledger.processor.pricing import Pricer
from llmledger.processor.reports import charts
from llmledger.processor.reports.build import ReportSettings, build_report
from llmledger.processor.reports.periods import period_of
from llmledger.processor.reports.plots import CHARTS, plot
from llmledger.processor.reports.render import render_html, render_markdown, report_charts
from report_checks import assert_a_drawn_chart, dark_pixels, images_of

CHART_NAMES = ["trend", "share", "tokens", "cost_requests", "burn_down"]


@pytest.fixture(scope="module")
def march(report_run):
    return build_report(report_run, period_of("month", date(2025, 3, 1)), pricer=Pricer(),
                        settings=ReportSettings(pages_url="http://llmledger.example"),
                        now=datetime(2025, 4, 1, 8, tzinfo=timezone.utc))


def test_the_html_report_carries_its_charts_inline(march, artifacts):
    chart_list = report_charts(march)
    html = render_html(march, chart_list)
    (artifacts / "march-2025.html").write_text(html, encoding="utf-8")
    for chart in chart_list:
        (artifacts / f"march-2025-{chart.name}.png").write_bytes(chart.data)

    assert [c.name for c in chart_list] == CHART_NAMES
    images = images_of(html)
    assert len(images) == len(CHART_NAMES)
    for image, chart in zip(images, chart_list):
        kind, _, encoded = image["src"].partition(";base64,")
        assert kind == "data:image/png"  # inside the file: nothing is fetched to show it
        assert base64.b64decode(encoded) == chart.data
        assert_a_drawn_chart(chart.data)
        assert image["alt"].startswith(chart.title)
    # The figures as people read them, through the formatting module.
    for text in ("LLM costs, March 2025", fmt.money(march.headline.cost), "Top movers", "Where the money went",
                 "Budgets", "Anomalies and new arrivals", "Savings", "Response cache (exact)", "Fallbacks",
                 fmt.signed_money(Decimal("-0.0066")), "Data quality", "WHAT-IF",
                 "New model: claude-3-5-haiku", "New app: batch-eval", "acme-llama-ft"):
        assert text in html
    assert "<script" not in html and "http://llmledger.example/?from=2025-03-01" in html


def test_unpriced_models_read_n_a_not_zero(march):
    html = render_html(march, [])
    row = re.search(r"<tr><td>acme-llama-ft</td><td class=\"num\">([^<]*)</td><td class=\"num\">([^<]*)</td>", html)
    assert row.groups() == ("n/a", "n/a")


def test_chart_text_is_set_in_the_font_matplotlib_ships(march):
    # The font file lives inside matplotlib's own package: no font of the host is needed.
    assert Path(matplotlib.get_data_path()) in Path(charts.font_path()).parents
    with_title = Image.open(io.BytesIO(charts.render(charts.trend_chart(march.trend, "Spend per day")))).convert("L")
    without = Image.open(io.BytesIO(charts.render(charts.trend_chart(march.trend, " ")))).convert("L")
    band = (0, 0, with_title.width // 2, with_title.height // 10)  # where the title goes
    title_ink, blank_ink = dark_pixels(with_title.crop(band), 100), dark_pixels(without.crop(band), 100)
    assert title_ink > 500 and blank_ink < title_ink // 10, (title_ink, blank_ink)


def test_the_markdown_report(march, artifacts):
    text = render_markdown(march)
    (artifacts / "march-2025.md").write_text(text, encoding="utf-8")
    assert text.startswith("# LLM costs, March 2025\n")
    assert f"**{fmt.money(march.headline.cost)}** spent" in text
    assert "| acme-llama-ft | n/a | n/a |" in text
    assert "## Quick wins (what-ifs)" in text and "**What if** the" in text


@pytest.mark.parametrize("name", CHARTS)
def test_each_chart_alone_as_png_and_svg(report_run, name, artifacts):
    period = period_of("month", date(2025, 3, 1))
    figure = plot(report_run, name, period, dimension={"trend": "team", "share": "provider"}.get(name))
    png = charts.render(figure, "png")
    (artifacts / f"plot-{name}.png").write_bytes(png)
    assert_a_drawn_chart(png)
    svg = charts.render(plot(report_run, name, period), "svg")
    root = ElementTree.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # Text as outlines: it reads the same where the viewer has no fonts.
    assert svg.count(b"<path") > 20 and b"<text" not in svg


def test_a_period_without_calls_renders_without_charts(report_run):
    empty = build_report(report_run, period_of("week", date(2024, 6, 5)), pricer=Pricer())
    assert report_charts(empty) == []
    html = render_html(empty)
    assert fmt.money(0) in html and "No budget" not in html and "Nothing unusual" in html
    assert plot(report_run, "share", period_of("week", date(2024, 6, 5))) is None
