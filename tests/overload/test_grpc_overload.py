"""A flood of big OTLP/gRPC requests costs the service a bounded amount of memory: requests
past the limits are refused with UNAVAILABLE and RetryInfo before their messages are read,
instead of all being read into memory first."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc

from service_harness import start_service
from flood import big_request

CLIENTS = 48
BODY_MIB = 8
FLOOD_S = 12
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
# What the flood may add to the service's resident memory: two 8 MiB messages being read and
# one request decoded (the 128 MiB in-flight cap), with generous room for the allocator.
# Measured here: about 180 MiB; before the limits, this flood added about 630 MiB.
ALLOWED_GROWTH_MIB = 400


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_flood_of_big_grpc_requests_keeps_memory_bounded(tmp_path):
    config = tmp_path / "llmledger.yaml"
    # One 8 MiB request decoded at a time (×16 in memory), two read at once.
    config.write_text(f"http:\n  max_inflight_bytes: {128 << 20}\ngrpc:\n  max_concurrent_requests: 2\n"
                      "wal:\n  fsync: false\n")
    service = start_service(tmp_path / "data", "--config", str(config))
    body = big_request(BODY_MIB, 1).SerializeToString()
    answers: dict[str, int] = {}
    refusals_without_retry_info = []
    lock = threading.Lock()
    try:
        with grpc.insecure_channel(service.grpc_address) as channel:  # warm up: first insert, first parse
            channel.unary_unary(EXPORT)(body, timeout=60)
        baseline = _rss_mib(service.process.pid)
        deadline = time.monotonic() + FLOOD_S

        def client() -> None:
            with grpc.insecure_channel(service.grpc_address) as channel:
                export = channel.unary_unary(EXPORT)  # raw bytes: the client spends no time serializing
                while time.monotonic() < deadline:
                    try:
                        export(body, timeout=60)
                        outcome = "OK"
                    except grpc.RpcError as error:
                        outcome = error.code().name
                        trailers = dict(error.trailing_metadata() or ())
                        if outcome == "UNAVAILABLE" and "google.rpc.retryinfo-bin" not in trailers:
                            refusals_without_retry_info.append(error.details())
                    with lock:
                        answers[outcome] = answers.get(outcome, 0) + 1
                    if outcome != "OK":
                        time.sleep(1)  # as the exporters do with the RetryInfo we send

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        peak = baseline
        while any(thread.is_alive() for thread in threads):
            peak = max(peak, _rss_mib(service.process.pid))
            time.sleep(0.05)
        for thread in threads:
            thread.join()
    finally:
        service.stop()
    print(f"answers {answers}, RSS {baseline:.0f} MiB before the flood, peak {peak:.0f} MiB")
    assert set(answers) <= {"OK", "UNAVAILABLE"}, answers
    assert answers.get("OK", 0) > 0 and answers.get("UNAVAILABLE", 0) > 0, answers
    assert refusals_without_retry_info == []
    assert peak - baseline < ALLOWED_GROWTH_MIB, (baseline, peak)

