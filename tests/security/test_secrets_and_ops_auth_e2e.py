"""No credential is ever shown, and with API keys on the service-wide endpoints answer only
the operator: /healthz stays open and says nothing, /readyz tells anyone whether it is
ready and only the operator why, /metrics needs a key bound to no app or tenant."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from service_harness import start_service
from llm_traffic import GPT_4O_MINI_CHAT, encoded_request

PASSWORD = "s3cr3t-Pa55"


def _get(url: str, key: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _key(data_dir, *flags: str) -> str:
    result = subprocess.run([sys.executable, "-m", "llmledger.processor.cli", "keys", "create",
                             "--data-dir", str(data_dir), *flags], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[0]


@pytest.fixture
def down_store_port():
    """A loopback port where no ClickHouse answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def secured(tmp_path, down_store_port):
    data_dir = tmp_path / "data"
    (tmp_path / "llmledger.yaml").write_text("auth:\n  enabled: true\n")
    keys = {"operator": _key(data_dir, "--name", "prometheus"), "tenant": _key(data_dir, "--tenant", "t1")}
    url = f"http://llmledger:{PASSWORD}@127.0.0.1:{down_store_port}"
    running = start_service(data_dir, "--config", str(tmp_path / "llmledger.yaml"), "--clickhouse-url", url)
    yield running, keys
    running.stop()


def test_the_store_password_is_never_shown(secured, down_store_port):
    service, keys = secured
    token = json.loads((service.data_dir / "service.json").read_text())["token"]
    assert f"llmledger:***@127.0.0.1:{down_store_port}" in service.banner
    request = urllib.request.Request(service.http_url + "/v1/traces", encoded_request([("chat", GPT_4O_MINI_CHAT)]),
                                     {"Content-Type": "application/x-protobuf",
                                      "Authorization": f"Bearer {keys['operator']}"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200  # logged; the store is down

    # Wait until the drain has tried the store and said why it cannot.
    target = f"127.0.0.1:{down_store_port}"
    deadline = time.monotonic() + 60
    while target not in _get(service.http_url + "/readyz", token)[1]:
        assert time.monotonic() < deadline, "the store error never showed in /readyz"
        time.sleep(0.3)

    answers = [service.banner]
    for path in ("/healthz", "/readyz", "/metrics"):
        for key in (None, keys["tenant"], keys["operator"], token):
            answers.append(_get(service.http_url + path, key)[1])
    service.stop()
    answers.append(service.log_path.read_text())
    for answer in answers:
        assert PASSWORD not in answer


def test_service_wide_endpoints_answer_the_operator_only(secured):
    service, keys = secured
    url = service.http_url

    assert _get(url + "/healthz") == (200, "ok")

    status, anyone = _get(url + "/readyz")
    assert set(json.loads(anyone)) == {"ready"}
    assert _get(url + "/readyz", keys["tenant"])[1] == anyone
    status, operator = _get(url + "/readyz", keys["operator"])
    assert "ready" in json.loads(operator) and len(json.loads(operator)) > 1

    assert _get(url + "/metrics")[0] == 401
    assert _get(url + "/metrics", "llk_deadbeef_nottherightsecret")[0] == 401
    assert _get(url + "/metrics", keys["tenant"])[0] == 403  # metrics cover every tenant
    status, text = _get(url + "/metrics", keys["operator"])
    assert status == 200 and "llmledger_spans_received_total" in text


def test_without_auth_the_endpoints_stay_open(service):
    assert _get(service.http_url + "/metrics")[0] == 200
    status, body = _get(service.http_url + "/readyz")
    assert len(json.loads(body)) > 1
