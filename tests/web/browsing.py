"""Looking at pages in the browser the tests drive: open or follow to a page, check its
console, take its screenshot, read it."""
from __future__ import annotations

import os
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from llmledger.processor.cli.query import query_service

# Screenshots of every page a test opens, to look at.
SCREENSHOTS = Path(os.environ.get("LLMLEDGER_SCREENSHOTS", Path(__file__).parents[2] / "test-output" / "pages"))


def runner_of(service):
    info = {"http": service.http_url, "token": service._token}
    return lambda sql, parameters=None: query_service(info, sql, parameters)


def open_page(browser, service, path: str, screenshot: str | None = None, *, error_page: bool = False):
    browser.get(service.http_url + path)
    return settled(browser, screenshot, error_page=error_page)


def settled(browser, screenshot: str | None = None, *, error_page: bool = False):
    """After a page load: no console errors (but the page's own 4xx status, when it is an error
    page), and a full-page screenshot when named."""
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"
              and not (error_page and entry["source"] == "network" and browser.current_url in entry["message"])]
    assert errors == [], f"JavaScript console errors on {browser.current_url}: {errors}"
    if screenshot:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        height = browser.execute_script("return document.body.scrollHeight")
        browser.set_window_size(1400, min(max(height, 900), 4000))
        browser.save_screenshot(str(SCREENSHOTS / f"{screenshot}.png"))
        browser.set_window_size(1400, 1000)
    return browser


def navigate(browser, action, screenshot: str | None = None, *, error_page: bool = False):
    """Do what loads another page (a click, a submit) and wait until it has loaded."""
    page = browser.find_element(By.TAG_NAME, "html")
    action()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(page))
    WebDriverWait(browser, 60).until(lambda b: b.execute_script("return document.readyState") == "complete")
    return settled(browser, screenshot, error_page=error_page)


def text_of(browser, css: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, css).text.strip()
