"""API keys on both receivers: no key, a wrong key, a revoked key, and a key bound to a tenant."""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from service_harness import start_service
from llm_traffic import GPT_4O_MINI_CHAT, encoded_request


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmledger.processor.cli", *args],
                          capture_output=True, text=True, timeout=60)


def _post(url: str, body: bytes, key: str | None) -> int:
    headers = {"Content-Type": "application/x-protobuf"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers, method="POST"), timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def secured(tmp_path):
    data_dir = tmp_path / "data"
    config = tmp_path / "llmledger.yaml"
    config.write_text("auth:\n  enabled: true\n")
    created = _cli("keys", "create", "--data-dir", str(data_dir), "--name", "tenant A", "--app", "app-a",
                   "--tenant", "tenant-a")
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[0]
    running = start_service(data_dir, "--config", str(config))
    yield running, key, config
    running.stop()


def test_receivers_refuse_requests_without_a_valid_key(secured):
    service, key, _ = secured
    url = f"{service.http_url}/v1/traces"
    body = encoded_request([("chat gpt-4o-mini", GPT_4O_MINI_CHAT)])
    assert _post(url, body, None) == 401
    assert _post(url, body, "llk_deadbeef_wrongsecret") == 401
    assert _post(url, body, key[:-1] + ("A" if key[-1] != "A" else "B")) == 401
    assert _post(url, body, key) == 200

    request = ExportTraceServiceRequest.FromString(encoded_request([("chat gpt-4o-mini", GPT_4O_MINI_CHAT)]))
    with grpc.insecure_channel(service.grpc_address) as channel:
        stub = TraceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Export(request, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stub.Export(request, timeout=10, metadata=(("authorization", f"Bearer {key}"),))
    assert service.wait_for("SELECT count() FROM llm_spans", 2) == 2


def test_a_revoked_key_stops_working_on_the_running_service(secured):
    service, key, config = secured
    url = f"{service.http_url}/v1/traces"
    assert _post(url, encoded_request([("chat", GPT_4O_MINI_CHAT)]), key) == 200
    key_id = key.split("_")[1]
    listed = _cli("keys", "list", "--data-dir", str(service.data_dir), "--format", "json")
    assert key_id in listed.stdout and key.split("_", 2)[2] not in listed.stdout  # never the secret
    assert _cli("keys", "revoke", key_id, "--data-dir", str(service.data_dir)).returncode == 0
    deadline = time.monotonic() + 10
    while _post(url, encoded_request([("chat", GPT_4O_MINI_CHAT)]), key) != 401:
        assert time.monotonic() < deadline, "revoked key still accepted"
        time.sleep(0.2)


def test_a_key_bound_to_a_tenant_decides_attribution(secured):
    service, key, _ = secured
    claiming_b = {**GPT_4O_MINI_CHAT, "llmledger.tenant": "tenant-b", "llmledger.app": "app-b"}
    assert _post(f"{service.http_url}/v1/traces", encoded_request([("chat", claiming_b)]), key) == 200
    assert service.wait_for("SELECT count() FROM llm_spans", 1) == 1
    assert service.query("SELECT app, tenant FROM llm_spans") == [{"app": "app-a", "tenant": "tenant-a"}]


def test_the_budget_check_wants_a_key_too(secured):
    service, key, _ = secured
    url = f"{service.http_url}/v1/budgets/check?app=app-a"
    try:
        urllib.request.urlopen(url, timeout=10)
        raise AssertionError("the check answered without a key")
    except urllib.error.HTTPError as error:
        assert error.code == 401
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200

    from llmledger.instrumentation.budget import BudgetGuard

    assert BudgetGuard(service.http_url, api_key=key, fail_open=False).check({"llmledger.app": "app-a"}) is None


def test_a_bound_keys_metrics_and_logs_carry_its_binding(secured):
    """As its spans do: whatever the resource or a record claims, rows say app-a / tenant-a."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.sdk.metrics.export import MetricExportResult

    from signal_traffic import logs_request, sdk_metrics

    service, key, _ = secured
    exporter = OTLPMetricExporter(endpoint=f"{service.http_url}/v1/metrics",
                                  headers={"Authorization": f"Bearer {key}"})
    assert exporter.export(sdk_metrics()) == MetricExportResult.SUCCESS

    logs = ExportLogsServiceRequest.FromString(logs_request())
    claim_b = KeyValue(key="llmledger.tenant", value=AnyValue(string_value="tenant-b"))
    logs.resource_logs[0].resource.attributes.append(claim_b)
    logs.resource_logs[0].scope_logs[0].log_records[0].attributes.append(claim_b)
    assert _post(f"{service.http_url}/v1/logs", logs.SerializeToString(), key) == 200

    assert service.wait_for("SELECT count() FROM otel_logs", 3) == 3
    assert service.wait_for("SELECT count() FROM otel_metrics_sum", 2) == 2
    assert service.wait_for("SELECT count() FROM otel_metrics_histogram", 2) == 2  # one insert, but parts show apart
    for table in ("otel_metrics_sum", "otel_metrics_histogram", "otel_logs"):
        stamped = service.query(f"SELECT DISTINCT ResourceAttributes['llmledger.app'] AS app, "
                                f"ResourceAttributes['llmledger.tenant'] AS tenant FROM {table}")
        assert stamped == [{"app": "app-a", "tenant": "tenant-a"}], table
    record_claims = service.query("SELECT LogAttributes['llmledger.tenant'] AS tenant, Body FROM otel_logs "
                                  "WHERE mapContains(LogAttributes, 'llmledger.tenant')")
    assert [row["tenant"] for row in record_claims] == ["tenant-a"]
    # Attributes that claim nothing stay as they came.
    assert service.scalar("SELECT Attributes['team'] FROM otel_metrics_sum WHERE MetricName = 'llm.requests'") \
        == "search"
