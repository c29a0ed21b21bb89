"""The cost pages in a real browser, on the demo's data in a running `llmledger serve`: every
page opens without a JavaScript error, shows the analytics API's numbers as the formatting
module writes them, and follows the links and forms a person uses."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from browsing import navigate, open_page, runner_of, text_of
from llmledger.processor import analytics
from llmledger.processor import format as fmt


def _days(days: int) -> tuple[str, datetime, datetime]:
    """A custom range of whole UTC days up to today, as the page's query string and as [start, end)."""
    today = datetime.now(timezone.utc).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
    return f"from={first.isoformat()}&to={today.isoformat()}", start, start + timedelta(days=days)


def test_overview_shows_the_analytics_figures(browser, demo_service):
    run = runner_of(demo_service)
    query, start, end = _days(10)
    before = analytics.period_spend(run, datetime.now(timezone.utc))
    open_page(browser, demo_service, f"/?{query}", screenshot="overview")
    after = analytics.period_spend(run, datetime.now(timezone.utc))
    for card in browser.find_elements(By.CSS_SELECTOR, "[data-period]"):
        period = card.get_attribute("data-period")
        shown = card.find_element(By.CSS_SELECTOR, ".big").text
        assert shown in {fmt.money(p.cost) for p in before + after if p.period == period}

    totals = analytics.summary(run, start, end)
    assert text_of(browser, "#range-cost") == fmt.money(totals.cost)
    assert text_of(browser, "#per-call") == fmt.money(totals.average_cost_per_request)
    # Savings are what the ledger records for every strategy: the demo's response-cache hits,
    # its routing rule and the providers' prompt caching.
    savings = analytics.savings_by(run, "strategy", start, end)
    assert {"exact_cache", "semantic_cache", "routing", "prompt_cache"} <= {r.key for r in savings}
    assert all(r.saved > 0 for r in savings)
    assert text_of(browser, "#savings") == fmt.money(sum(r.saved for r in savings))
    for saving in savings:
        assert text_of(browser, f"[data-strategy={saving.key}]").endswith(" " + fmt.money(saving.saved))
    # Unpriced: the calls of the model no price list knows, and not the calls a budget refused.
    _, [[unknown_model_calls, refused, refused_unpriced]] = run(
        "SELECT countIf(model = 'acme-llama-ft-v3'), countIf(status = 'Refused'), "
        "countIf(status = 'Refused' AND unpriced = 1) FROM v_llm_calls WHERE timestamp >= {start:DateTime64(6, 'UTC')}",
        {"start": start.strftime("%Y-%m-%d %H:%M:%S")})
    assert int(refused) == 6 and int(refused_unpriced) == 0
    assert text_of(browser, "#unpriced-count") == fmt.tokens(totals.unpriced_requests) == fmt.tokens(
        int(unknown_model_calls))
    assert text_of(browser, ".figure.warn .sub") == "acme-llama-ft-v3: add a price"

    top = analytics.top_with_share(run, "model", start, end, limit=5)
    rows = browser.find_elements(By.CSS_SELECTOR, "[data-dimension=model] tr:not(.others)")
    assert [(r.find_element(By.TAG_NAME, "th").text, r.find_elements(By.TAG_NAME, "td")[0].text) for r in rows] == [
        (row.key, fmt.money_of(row)) for row in top.rows]
    # The chart drew (uPlot puts a canvas in its holder).
    assert browser.find_elements(By.CSS_SELECTOR, "[data-chart=trend] canvas")


def test_changing_the_range_and_a_filter_changes_the_figures(browser, demo_service):
    run = runner_of(demo_service)
    open_page(browser, demo_service, "/")
    navigate(browser, lambda: Select(browser.find_element(By.ID, "range")).select_by_value("30d"))  # applies itself
    assert "range=30d" in browser.current_url
    today = datetime.now(timezone.utc).date()
    start = datetime.combine(today - timedelta(days=29), datetime.min.time(), timezone.utc)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), timezone.utc)
    assert text_of(browser, "#range-cost") == fmt.money(analytics.summary(run, start, end).cost)

    browser.find_element(By.CSS_SELECTOR, "details.more summary").click()
    field = browser.find_element(By.CSS_SELECTOR, "form.filters input[name=app]")
    field.send_keys("code-review")
    navigate(browser, field.submit, screenshot="overview-filtered")
    params = parse_qs(urlsplit(browser.current_url).query)
    assert params["range"] == ["30d"] and params["app"] == ["code-review"]  # a shareable link
    filtered = analytics.summary(run, start, end, filters={"app": "code-review"})
    assert text_of(browser, "#range-cost") == fmt.money(filtered.cost)
    assert "app = code-review" in text_of(browser, "a.chip")
    assert [e.text for e in browser.find_elements(By.CSS_SELECTOR, "[data-dimension=app] th")] == ["code-review"]


def test_breakdown_table_sorting_and_csv(browser, demo_service):
    run = runner_of(demo_service)
    query, start, end = _days(10)
    open_page(browser, demo_service, f"/breakdown?by=app&split=model&{query}", screenshot="breakdown")
    rows = analytics.cost_by(run, "app", start, end)
    shown = [(r.get_attribute("data-key"), r.find_elements(By.TAG_NAME, "td")[0].text)
             for r in browser.find_elements(By.CSS_SELECTOR, "#breakdown tbody tr")]
    assert shown == [(r.key, fmt.money_of(r)) for r in rows]
    assert ("lab", "n/a") in shown  # every lab call is unpriced: never $0.00
    assert browser.find_elements(By.CSS_SELECTOR, "#matrix tbody tr")

    navigate(browser, browser.find_element(By.LINK_TEXT, "calls").click)  # sort by calls, most first
    keys = [r.get_attribute("data-key") for r in browser.find_elements(By.CSS_SELECTOR, "#breakdown tbody tr")]
    assert keys == [r.key for r in sorted(rows, key=lambda r: -r.requests)]

    link = browser.find_element(By.LINK_TEXT, "CSV").get_attribute("href")
    with urllib.request.urlopen(link, timeout=60) as response:
        lines = response.read().decode().splitlines()
    assert lines[0].startswith("app,model,cost,requests")
    cells = analytics.cost_matrix(run, "app", "model", start, end).cells
    # Exact amounts; an unpriced cell's cost is empty (unknown), not 0.
    assert [(*line.split(",")[:2], Decimal(line.split(",")[2]) if line.split(",")[2] else None)
            for line in lines[1:]] == [(c.row, c.column, c.cost) for c in cells]
    assert any(c.cost is None for c in cells)


def test_a_call_leads_to_its_trace(browser, demo_service):
    run = runner_of(demo_service)
    query, start, end = _days(10)
    open_page(browser, demo_service, f"/calls?{query}", screenshot="calls")
    top = analytics.most_expensive_calls(run, start, end, limit=50)
    first = browser.find_element(By.CSS_SELECTOR, "#calls tbody tr")
    assert first.get_attribute("data-span") == top[0].span_id
    assert first.find_element(By.CSS_SELECTOR, "td[data-value]").text == fmt.money(top[0].cost)

    navigate(browser, first.find_element(By.CSS_SELECTOR, "a.trace-link").click, screenshot="trace")
    assert f"/traces/{top[0].trace_id}" in browser.current_url
    assert browser.current_url.endswith(f"#span-{top[0].span_id}")
    tree = analytics.trace_tree(run, top[0].trace_id)
    assert text_of(browser, "#trace-cost") == fmt.money(tree.cost)
    spans = browser.find_elements(By.CSS_SELECTOR, "#spans tbody tr")
    assert [s.get_attribute("data-span") for s in spans] == [s.span_id for s in tree.spans]
    assert len(tree.spans) >= 2 and tree.spans[0].call is None  # the request span above the LLM call
    row = browser.find_element(By.ID, f"span-{top[0].span_id}")
    assert row.find_element(By.CSS_SELECTOR, "td[data-value]").text == fmt.money(top[0].cost)
    assert "input" in row.find_element(By.CSS_SELECTOR, "td.components").text


def test_a_refused_call_cost_nothing_and_is_not_unpriced(browser, demo_service):
    run = runner_of(demo_service)
    _, [[trace_id, span_id]] = run("SELECT trace_id, span_id FROM v_llm_calls WHERE status = 'Refused' LIMIT 1")
    open_page(browser, demo_service, f"/traces/{trace_id}")
    assert browser.find_element(By.ID, f"span-{span_id}").find_element(By.CSS_SELECTOR, "td[data-value]").text == (
        "refused")
    assert text_of(browser, "#trace-cost") == "$0.00" and "unpriced" not in text_of(browser, ".figure")


def test_budgets_show_live_status(browser, demo_service):
    request = urllib.request.Request(demo_service.http_url + "/v1/budgets",
                                     headers={"Authorization": f"Bearer {demo_service._token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        statuses = {s["id"]: s for s in json.loads(response.read())["budgets"]}
    open_page(browser, demo_service, "/budgets", screenshot="budgets")
    cards = {c.get_attribute("data-budget"): c for c in browser.find_elements(By.CSS_SELECTOR, "[data-budget]")}
    assert set(cards) == set(statuses) == {"support-bot.monthly", "code-review.daily", "acme.weekly"}
    for budget_id, card in cards.items():
        assert card.find_element(By.CSS_SELECTOR, ".spend").text == fmt.money(Decimal(statuses[budget_id]["spend"]))
        assert card.find_elements(By.CSS_SELECTOR, "[data-chart=burn-down] canvas")
    review, status = cards["code-review.daily"], statuses["code-review.daily"]
    throttle = review.find_element(By.CSS_SELECTOR, ".throttle").text
    crossed = review.find_elements(By.CSS_SELECTOR, ".threshold.crossed")
    # The page says what the service says: a spent hard budget with a fallback degrades.
    assert throttle == ("calls degraded to claude-3-5-haiku-20241022" if status["exceeded"] else "calls allowed")
    assert len(crossed) == sum(1 for t in status["thresholds"] if Decimal(status["spend"]) >= Decimal(t) * 2)
    # The demo's spike spends the day's $2 review budget: the burn-down (from the store) shows it.
    burn = json.loads(review.find_element(By.CSS_SELECTOR, "[data-chart=burn-down] script").get_attribute(
        "textContent"))
    assert max(Decimal(v) for v in burn["series"][0]["values"] if v is not None) >= 2
    # The live status can lag the store (seen intermittently: spend 0 right after the budgets are set);
    # when it has caught up, the alert for the crossed thresholds is listed with its deliveries.
    if status["exceeded"]:
        alerts = review.find_elements(By.CSS_SELECTOR, "table.alerts tbody tr")
        assert len(alerts) == 1 and "100% of the limit crossed" in alerts[0].text


def test_anomalies_page_finds_what_the_command_finds(browser, demo_service):
    command = subprocess.run([sys.executable, "-m", "llmledger.processor.cli", "anomalies", "--data-dir",
                              str(demo_service.data_dir), "--format", "json"], capture_output=True, text=True,
                             timeout=300)
    found = json.loads(command.stdout)
    spike = next(a for a in found if a["kind"] == "hourly_spike")
    # The demo's 40 review calls, with whatever else the app/model did in that hour (early in
    # the UTC day the refusals after the spike fall in it too).
    _, [[in_hour]] = runner_of(demo_service)(
        "SELECT count() FROM v_llm_calls WHERE app = {app:String} AND model = {model:String} "
        "AND toStartOfHour(timestamp) = toStartOfHour({at:DateTime64(6, 'UTC')})",
        {"app": spike["app"], "model": spike["model"], "at": spike["at"][:19].replace("T", " ")})
    assert spike["app"] == "code-review" and spike["requests"] == int(in_hour) >= 40
    open_page(browser, demo_service, "/anomalies", screenshot="anomalies")
    cards = browser.find_elements(By.CSS_SELECTOR, ".anomaly")
    assert sorted(c.get_attribute("data-kind") for c in cards) == sorted(a["kind"] for a in found)
    card = next(c for c in cards if c.get_attribute("data-kind") == "hourly_spike")
    assert card.find_element(By.CSS_SELECTOR, ".observed").text == fmt.money(Decimal(spike["observed"]))
    assert card.find_elements(By.CSS_SELECTOR, "[data-chart=spike] canvas")  # with its baseline
    navigate(browser, card.find_element(By.CSS_SELECTOR, "a.trace-link").click)
    assert "/traces/" in browser.current_url
    assert browser.find_elements(By.CSS_SELECTOR, "#spans tr.llm")


def test_prices_page_prices_a_call(browser, demo_service):
    open_page(browser, demo_service, "/prices")
    form = browser.find_element(By.CSS_SELECTOR, "form.price-form")
    for name, value in (("price_model", "gpt-4o-mini"), ("price_provider", "openai"), ("input_tokens", "1000"),
                        ("cache_read_tokens", "200"), ("output_tokens", "100")):
        form.find_element(By.NAME, name).send_keys(value)
    navigate(browser, form.submit, screenshot="prices")
    assert "price_model=gpt-4o-mini" in browser.current_url
    # gpt-4o-mini: 0.15 in / 0.075 cached / 0.60 out per 1M tokens.
    # 800 x 0.15/1M + 200 x 0.075/1M + 100 x 0.60/1M = 0.00012 + 0.000015 + 0.00006 = 0.000195
    assert text_of(browser, "#estimate-total") == "$0.000195"
    rates = {r.get_attribute("data-component"): r.find_element(By.CSS_SELECTOR, "td").text
             for r in browser.find_elements(By.CSS_SELECTOR, "#price-in-force tr[data-component]")}
    assert (rates["input"], rates["cache_read"], rates["output"]) == ("$0.15", "$0.075", "$0.60")
    # The unpriced model is listed with a link to look its price up.
    unpriced = browser.find_element(By.CSS_SELECTOR, "#models-seen tr.warn a")
    assert unpriced.text == "acme-llama-ft-v3"
    navigate(browser, unpriced.click)
    assert "No price" in text_of(browser, "#price-in-force")


def test_bad_parameters_get_a_page_that_says_why(browser, demo_service):
    open_page(browser, demo_service, "/breakdown?by=colour", error_page=True)
    assert "unknown dimension 'colour'" in text_of(browser, "main")
    open_page(browser, demo_service, "/traces/" + "f" * 32, error_page=True)
    assert "no trace" in text_of(browser, "main")


def test_demo_says_where_the_pages_are(demo_service):
    last = demo_service.demo_output.strip().splitlines()[-1]
    assert last == f"cost pages: {demo_service.http_url}/"
    assert f"cost pages at {demo_service.http_url}/" in demo_service.banner
    assert "hourly spike" in demo_service.demo_output and "request outlier" in demo_service.demo_output

