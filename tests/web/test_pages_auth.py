"""With auth enabled, the pages want an API key, and a key bound to a tenant sees that
tenant's calls only, whatever the URL asks for."""
from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.by import By

from llm_traffic import GPT_4O_MINI_CHAT, GPT_4O_MINI_COST, encoded_request
from service_harness import start_service
from browsing import navigate, open_page, text_of

from llmledger.processor import format as fmt


def _key(data_dir, tenant: str) -> str:
    created = subprocess.run([sys.executable, "-m", "llmledger.processor.cli", "keys", "create", "--data-dir",
                              str(data_dir), "--tenant", tenant], capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    return created.stdout.splitlines()[0]


def _get(url: str, key: str | None = None) -> tuple[int, str, str]:
    """Status, final URL and body, following redirects as a browser would."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:
            return response.status, response.url, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, url, error.read().decode()


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """A service with auth on, and calls from two tenants, each sent with its tenant's key."""
    root = tmp_path_factory.mktemp("secured")
    data_dir, config = root / "data", root / "llmledger.yaml"
    config.write_text("auth:\n  enabled: true\n")
    keys = {tenant: _key(data_dir, tenant) for tenant in ("acme", "globex")}
    service = start_service(data_dir, "--config", str(config))
    for tenant, calls in (("acme", 2), ("globex", 3)):
        body = encoded_request([("chat gpt-4o-mini", GPT_4O_MINI_CHAT)] * calls)
        request = urllib.request.Request(f"{service.http_url}/v1/traces", body, method="POST", headers={
            "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {keys[tenant]}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
    # The pages read the rollup, which an insert fills just after the calls themselves.
    assert service.wait_for("SELECT sum(requests) FROM llm_cost_hourly", 5) == 5
    yield service, keys
    service.stop()


def test_pages_want_a_key(secured):
    service, keys = secured
    status, url, body = _get(service.http_url + "/breakdown?by=tenant")
    assert status == 200 and url.startswith(service.http_url + "/login?next=") and "API key" in body
    assert _get(service.http_url + "/", "llk_deadbeef_wrongsecret")[0] == 401
    status, _, body = _get(service.http_url + "/breakdown?by=tenant", keys["acme"])  # a program with the header
    assert status == 200 and 'data-key="acme"' in body and 'data-key="globex"' not in body


def test_a_tenant_key_logs_in_and_sees_its_tenant_only(browser, secured):
    service, keys = secured
    browser.delete_all_cookies()
    open_page(browser, service, "/?range=24h&tenant=globex")  # asks for the other tenant
    assert "/login" in browser.current_url
    form = browser.find_element(By.CSS_SELECTOR, "section.login form")
    form.find_element(By.NAME, "key").send_keys(keys["acme"])
    navigate(browser, form.submit, screenshot="overview-tenant")
    assert "/login" not in browser.current_url and "range=24h" in browser.current_url
    # 2 acme calls of gpt-4o-mini at 0.000195 each (llm_traffic) = 0.00039; globex's 3 are not counted.
    assert text_of(browser, "#range-cost") == fmt.money(2 * GPT_4O_MINI_COST) == "$0.00039"
    assert "tenant acme" in text_of(browser, "header .who")

    open_page(browser, service, "/breakdown?by=tenant&range=24h")
    assert [r.get_attribute("data-key") for r in browser.find_elements(By.CSS_SELECTOR, "#breakdown tbody tr")] \
        == ["acme"]
    open_page(browser, service, "/anomalies")
    assert "bound to a tenant" in text_of(browser, "main")

    navigate(browser, browser.find_element(By.CSS_SELECTOR, "form.logout button").click)
    assert "/login" in browser.current_url
    open_page(browser, service, "/")
    assert "/login" in browser.current_url  # the cookie is gone


def test_a_wrong_key_is_refused_at_login(browser, secured):
    service, _ = secured
    browser.delete_all_cookies()
    open_page(browser, service, "/login")
    form = browser.find_element(By.CSS_SELECTOR, "section.login form")
    form.find_element(By.NAME, "key").send_keys("llk_deadbeef_wrongsecret")
    navigate(browser, form.submit, error_page=True)
    assert "does not open the pages" in text_of(browser, "main")

