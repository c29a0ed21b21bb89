"""Budgets in the running service: the issue's budget file as-is, a threshold alert sent
once to a webhook, the throttle decision flipping to 429, and the CLI status."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from service_harness import start_service
from llm_traffic import GPT_4O_MINI_CHAT, export_spans

# The format, with the channels pointed at a local receiver and tiny limits.
BUDGETS = """
budgets:
  - app_id: "support-bot"
    daily_limit: 0.0005
    monthly_limit: 10000.0
    alert_thresholds: [0.5, 0.8, 0.95]
    notification_channels:
      - type: webhook
        url: "{url}"
  - app_id: "internal-tools"
    daily_limit: 100.0
    monthly_limit: 2000.0
    alert_thresholds: [0.8, 0.95]
    notification_channels:
      - type: webhook
        url: "{url}"
"""


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/alerts", _Receiver.received
    server.shutdown()


def _check(service, **params) -> tuple[int, dict]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    try:
        with urllib.request.urlopen(f"{service.http_url}/v1/budgets/check?{query}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_budget_file_alerts_once_and_throttles(tmp_path, webhook):
    url, received = webhook
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(BUDGETS.format(url=url))
    config = tmp_path / "llmledger.yaml"
    config.write_text("budgets:\n  evaluate_interval_s: 1\n")
    service = start_service(tmp_path / "data", "--budgets", str(budgets), "--config", str(config))
    try:
        assert _check(service, app="support-bot")[0] == 200
        # Two gpt-4o-mini calls of 0.000195 each: 0.00039 of 0.0005 = 78 %, past the 50 % threshold.
        export_spans(service, [("chat", GPT_4O_MINI_CHAT), ("chat", GPT_4O_MINI_CHAT)])
        deadline = time.monotonic() + 30
        while not received:
            assert time.monotonic() < deadline, "no alert arrived"
            time.sleep(0.2)
        assert _check(service, app="support-bot")[0] == 200  # under the limit still
        # A third call: 0.000585 > 0.0005 — over the daily limit, the throttle says no.
        export_spans(service, [("chat", GPT_4O_MINI_CHAT)])
        deadline = time.monotonic() + 10
        while (answer := _check(service, app="support-bot"))[0] != 429:
            assert time.monotonic() < deadline, answer
            time.sleep(0.2)
        status, decision = answer
        assert "support-bot" in json.dumps(decision)
        assert _check(service, app="internal-tools")[0] == 200  # other budgets are untouched

        time.sleep(3)  # several more evaluation rounds: no threshold repeats
        keys = [alert["key"] for alert in received]
        assert "support-bot.daily|" in keys[0] and keys[0].endswith("|0.5")
        assert len(keys) == len(set(keys)), keys  # each threshold once per window

        result = subprocess.run(
            [sys.executable, "-m", "llmledger.processor.cli", "budgets", "status", "--format", "json",
             "--data-dir", str(service.data_dir)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        status = json.loads(result.stdout)
        statuses = {s["id"]: s for s in status["budgets"]}
        assert status["deliveries"] == []  # every alert reached the webhook
        daily = statuses["support-bot.daily"]
        assert daily["spend"].startswith("0.000585") and daily["exceeded"] is True

        with urllib.request.urlopen(f"{service.http_url}/metrics") as response:
            metrics = response.read().decode()
        assert 'llm_budget_limit_usd{budget="support-bot.daily"} 0.0005' in metrics
    finally:
        service.stop()


def test_a_budget_file_with_a_typo_stops_the_start(tmp_path):
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("budgets:\n  - app_id: x\n    dialy_limit: 5\n")
    result = subprocess.run(
        [sys.executable, "-m", "llmledger.processor.cli", "serve", "--data-dir", str(tmp_path / "d"),
         "--http-port", "0", "--grpc-port", "0", "--budgets", str(budgets)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "budgets.yaml:3" in result.stderr and "dialy_limit" in result.stderr
