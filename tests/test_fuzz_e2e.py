"""Thousands of malformed bodies against the running service's two receivers: every one
gets a 4xx (or a gRPC error), the service neither crashes nor grows, and nothing from a
refused body is stored."""
from __future__ import annotations

import gzip
import http.client
from pathlib import Path

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service_harness import start_service
from llm_traffic import GPT_4O_MINI_CHAT, encoded_request

VALID = encoded_request([("chat gpt-4o-mini", GPT_4O_MINI_CHAT)] * 3)
ACCEPTABLE = {200, 400, 413, 415}  # 200 only when the bytes happen to form a valid request


def _truncations():
    return st.integers(1, len(VALID) - 1).map(lambda n: VALID[:n])


def _flips():
    return st.tuples(st.integers(0, len(VALID) - 1), st.integers(1, 255)).map(
        lambda p: VALID[: p[0]] + bytes([VALID[p[0]] ^ p[1]]) + VALID[p[0] + 1:])


malformed_protobuf = st.one_of(st.binary(min_size=1, max_size=2000), _truncations(), _flips())
malformed_json = st.one_of(
    st.text(max_size=300).map(str.encode),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                     st.sampled_from(["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "attributes",
                                      "key", "value", "intValue", "startTimeUnixNano"]), inner, max_size=4),
                 max_leaves=20).map(lambda doc: __import__("json").dumps(doc).encode()),
)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_malformed_bodies_get_4xx_and_store_nothing(tmp_path):
    service = start_service(tmp_path / "data")
    host = service.http_url.split("//", 1)[1]
    answers: dict[int, int] = {}
    accepted_spans = [0]

    def post(body: bytes, content_type: str, encoding: str | None = None) -> int:
        connection = http.client.HTTPConnection(host, timeout=30)
        headers = {"Content-Type": content_type, **({"Content-Encoding": encoding} if encoding else {})}
        connection.request("POST", "/v1/traces", body, headers)
        status = connection.getresponse().status
        connection.close()
        answers[status] = answers.get(status, 0) + 1
        assert status in ACCEPTABLE, (status, body[:80])
        if status == 200 and content_type.endswith("protobuf"):
            from llmledger.processor.receivers.decode import decompress, parse_protobuf

            request = parse_protobuf(decompress(body, encoding, 1 << 30))
            accepted_spans[0] += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        return status

    try:
        post(VALID, "application/x-protobuf")  # warm up: the first request opens the store
        service.wait_for("SELECT count() FROM otel_traces", 3)
        rss_before = _rss_kib(service.process.pid)

        @settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(malformed_protobuf, st.booleans())
        def protobuf_over_http(body, compress):
            if compress:
                post(gzip.compress(body), "application/x-protobuf", "gzip")
            else:
                post(body, "application/x-protobuf")

        @settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(malformed_json)
        def json_over_http(body):
            assert post(body, "application/json") in ACCEPTABLE

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(st.binary(min_size=1, max_size=500))
        def broken_gzip(body):
            assert post(b"\x1f\x8b\x08\x00" + body, "application/x-protobuf", "gzip") in {400, 413}

        channel = grpc.insecure_channel(service.grpc_address)
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")

        @settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(malformed_protobuf)
        def protobuf_over_grpc(body):
            try:
                export(body, timeout=30)
                from llmledger.processor.receivers.decode import parse_protobuf

                request = parse_protobuf(body)
                accepted_spans[0] += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error

        protobuf_over_http()
        json_over_http()
        broken_gzip()
        protobuf_over_grpc()
        channel.close()

        assert service.process.poll() is None  # still serving
        assert post(VALID, "application/x-protobuf") == 200
        assert answers.get(400, 0) > 1000
        stored = service.wait_for("SELECT count() FROM llm_spans", 3, timeout=10)
        # Only the two valid requests' spans, and whatever random bytes happened to form valid spans.
        assert 3 <= stored <= 3 + accepted_spans[0]
        assert service.scalar("SELECT count() FROM otel_traces") <= 3 + accepted_spans[0]
        assert _rss_kib(service.process.pid) - rss_before < 100 * 1024  # no leak worth the name
    finally:
        service.stop()
