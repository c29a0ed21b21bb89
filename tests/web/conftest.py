"""A running `llmledger serve` with the demo's data, and a real headless Chromium (Debian's
chromium and chromium-driver, as .ci/run installs them) to look at its pages."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from service_harness import start_service

CHROMIUM = os.environ.get("LLMLEDGER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LLMLEDGER_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def demo_service(tmp_path_factory):
    """A service holding the demo's traffic (600 everyday calls over 10 days and the unusual ones)."""
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    service = start_service(data_dir)
    done = subprocess.run([sys.executable, "-m", "llmledger.processor.cli", "demo", "--data-dir", str(data_dir),
                           "--calls", "600", "--days", "10"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    service.demo_output = done.stdout
    yield service
    service.stop()


@pytest.fixture(scope="session")
def browser():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail(f"the page tests need Chromium and its driver at {CHROMIUM} and {CHROMEDRIVER}: "
                    "apt-get install chromium chromium-driver (as .ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="llmledger-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
