"""/readyz tells a load balancer whether spans sent here get stored: ready while the drain
makes progress (also when idle), not ready while it cannot, and the log says so once."""
from __future__ import annotations

import http.client
import json
import time

from service_harness import start_service


def _readiness(service) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(service.http_url.split("//", 1)[1], timeout=30)
    connection.request("GET", "/readyz")
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def _metric(service, name: str) -> float:
    connection = http.client.HTTPConnection(service.http_url.split("//", 1)[1], timeout=30)
    connection.request("GET", "/metrics")
    for line in connection.getresponse().read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not on /metrics")


def _wait_for_status(service, status: int, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got, body = _readiness(service)
        if got == status:
            return body
        assert time.monotonic() < deadline, f"/readyz stayed {got}: {body}"
        time.sleep(0.1)


def test_an_idle_healthy_store_is_ready(service):
    body = _wait_for_status(service, 200)  # the drain opens the store at start, with nothing to write
    assert body["ready"] is True and body["store_ok"] is True and body["store_error"] == ""
    assert _metric(service, "llmledger_drain_stalled") == 0


def test_an_unreachable_store_is_not_ready_and_logged_once(tmp_path):
    config = tmp_path / "no-store.yaml"
    config.write_text("storage:\n  clickhouse_url: http://127.0.0.1:9/\n")  # nothing listens there
    service = start_service(tmp_path / "data", "--config", str(config))
    try:
        body = _wait_for_status(service, 503)
        assert body["ready"] is False and body["store_ok"] is False
        assert "cannot open" in body["store_error"] and body["log_full"] is False
        deadline = time.monotonic() + 60
        while _metric(service, "llmledger_insert_retries_total") < 4:  # several retries, every few seconds
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert _readiness(service)[1]["stalled_seconds"] > 0
        assert service.log_path.read_text().count("retrying until it works") == 1
    finally:
        service.stop()
