"""Damaged metrics and logs requests against the running service: each is answered 200 or
400, never a 5xx, and what the service accepts it can store — no accepted point or record
ends in the dead-letter file because its values do not fit the exporter's columns."""
from __future__ import annotations

import http.client
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service_harness import start_service
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from signal_traffic import logs_request, metrics_request

VALID = {"/v1/metrics": metrics_request(), "/v1/logs": logs_request()}


def _marker() -> bytes:
    request = ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=time.time_ns(),
                                                                 body=AnyValue(string_value="the last one"))
    return request.SerializeToString()


def _damaged(path: str):
    valid = VALID[path]
    truncated = st.integers(1, len(valid) - 1).map(lambda n: valid[:n])
    flipped = st.tuples(st.integers(0, len(valid) - 1), st.integers(1, 255)).map(
        lambda p: valid[: p[0]] + bytes([valid[p[0]] ^ p[1]]) + valid[p[0] + 1:])
    return st.tuples(st.just(path), st.one_of(truncated, flipped, st.binary(min_size=1, max_size=500)))


def test_damaged_metrics_and_logs_are_answered_and_what_is_accepted_is_stored(tmp_path):
    service = start_service(tmp_path / "data")
    host = service.http_url.split("//", 1)[1]
    accepted = {"/v1/metrics": 0, "/v1/logs": 0}

    def post(path: str, body: bytes) -> int:
        connection = http.client.HTTPConnection(host, timeout=30)
        connection.request("POST", path, body, {"Content-Type": "application/x-protobuf"})
        status = connection.getresponse().status
        connection.close()
        assert status in (200, 400), (status, path, body[:80])
        if status == 200:
            accepted[path] += 1
        return status

    @settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.one_of(_damaged("/v1/metrics"), _damaged("/v1/logs")))
    def damaged(case):
        path, body = case
        post(path, body)

    try:
        damaged()
        assert service.process.poll() is None
        assert accepted["/v1/metrics"] and accepted["/v1/logs"]  # some damage still decodes
        # The drain writes the log in order: once the last request is stored, all before it are.
        assert post("/v1/logs", _marker()) == 200
        assert service.wait_for("SELECT count() FROM otel_logs WHERE Body = 'the last one'", 1) == 1
        dead_letters = tmp_path / "data" / "dead-letter.jsonl"
        assert not dead_letters.exists(), dead_letters.read_text()[:2000]
    finally:
        service.stop()
