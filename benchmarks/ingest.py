"""End-to-end ingest throughput: OTLP requests of 500 LLM spans into `llmledger serve`
on the embedded store, until every span is in `llm_spans`.

Prints spans/s acknowledged and spans/s stored, and the service's peak memory (VmHWM).
The client runs on the same machine and takes CPU from the service: the figures are a
floor for what the service does with the machine to itself.

    python benchmarks/ingest.py [--batches 200] [--transport http|grpc|both] [--compare-log] [--repeat 3]
    python benchmarks/ingest.py --flood   # memory under a flood of big requests, with a small in-flight cap
"""
from __future__ import annotations

import argparse
import http.client
import queue
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from service_harness import start_service  # noqa: E402

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import Span  # noqa: E402

SPANS_PER_BATCH = 500
_MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"), ("anthropic", "claude-sonnet-4-20250514"),
           ("anthropic", "claude-3-5-haiku-20241022"), ("gcp.gemini", "gemini-2.5-pro")]


def _attr(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def make_batches(count: int) -> list[bytes]:
    """`count` distinct requests of SPANS_PER_BATCH realistic LLM spans (unique ids: no dedup)."""
    now = time.time_ns()
    bodies = []
    for b in range(count):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend([_attr("service.name", f"app-{b % 7}"),
                                                   _attr("deployment.environment.name", "production")])
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "llmledger.instrumentation.openai"
        for n in range(SPANS_PER_BATCH):
            i = b * SPANS_PER_BATCH + n
            provider, model = _MODELS[i % len(_MODELS)]
            span = scope_spans.spans.add()
            span.trace_id = (i // 4 + 1).to_bytes(16, "big")
            span.span_id = (i + 1).to_bytes(8, "big")
            span.name = f"chat {model}"
            span.kind = Span.SPAN_KIND_CLIENT
            span.start_time_unix_nano = now - 10**9 - i * 1000
            span.end_time_unix_nano = now - i * 1000
            span.attributes.extend([
                _attr("gen_ai.operation.name", "chat"), _attr("gen_ai.provider.name", provider),
                _attr("gen_ai.request.model", model), _attr("gen_ai.response.model", model),
                _attr("gen_ai.response.id", f"chatcmpl-{i}"), _attr("server.address", "api.example.com"),
                _attr("gen_ai.usage.input_tokens", 1000 + i % 500), _attr("gen_ai.usage.output_tokens", 200),
                _attr("gen_ai.usage.cache_read.input_tokens", 256), _attr("gen_ai.request.stream", False),
                _attr("user.id", f"user-{i % 1000}"), _attr("llmledger.team", f"team-{i % 5}"),
            ])
        bodies.append(request.SerializeToString())
    return bodies


def send_http(url: str, bodies: list[bytes], clients: int) -> int:
    host_port = url.split("//", 1)[1]
    work: queue.Queue = queue.Queue()
    for body in bodies:
        work.put(body)
    refused = [0]

    def client():
        conn = http.client.HTTPConnection(host_port, timeout=60)
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                return
            while True:
                conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    break
                refused[0] += 1
                time.sleep(float(response.getheader("Retry-After", "1")))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return refused[0]


def send_grpc(address: str, bodies: list[bytes], clients: int) -> int:
    import grpc
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

    requests = [ExportTraceServiceRequest.FromString(b) for b in bodies]
    work: queue.Queue = queue.Queue()
    for request in requests:
        work.put(request)
    refused = [0]

    def client():
        with grpc.insecure_channel(address) as channel:
            stub = TraceServiceStub(channel)
            while True:
                try:
                    request = work.get_nowait()
                except queue.Empty:
                    return
                while True:
                    try:
                        stub.Export(request, timeout=60)
                        break
                    except grpc.RpcError as error:
                        if error.code() != grpc.StatusCode.UNAVAILABLE:
                            raise
                        refused[0] += 1
                        time.sleep(1)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return refused[0]


def peak_memory_mib(pid: int) -> float:
    return _status_mib(pid, "VmHWM:")


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


# How the write-ahead log runs: on disk with fsync (the default), on disk without fsync, or
# not at all (in memory: what the log costs is the difference to this).
LOG_MODES = {
    "log": "wal:\n  fsync: true\n",
    "log, no fsync": "wal:\n  fsync: false\n",
    "no log": "wal:\n  enabled: false\n",
}


def run_once(transport: str, bodies: list[bytes], clients: int, log_mode: str) -> float:
    """Runs one measurement, prints it and returns the stored spans per second."""
    data_dir = Path(tempfile.mkdtemp(prefix="llmledger-bench-"))
    config = data_dir / "bench.yaml"
    config.write_text(LOG_MODES[log_mode])
    service = start_service(data_dir / "data", "--config", str(config))
    try:
        total = len(bodies) * SPANS_PER_BATCH
        started = time.perf_counter()
        if transport == "http":
            refused = send_http(service.http_url, bodies, clients)
        else:
            refused = send_grpc(service.grpc_address, bodies, clients)
        acknowledged = time.perf_counter() - started
        stored = service.wait_for("SELECT count() FROM llm_spans", total, timeout=600)
        elapsed = time.perf_counter() - started
        memory = peak_memory_mib(service.process.pid)
        print(f"{transport:4s} {log_mode:13s} {total} spans in {len(bodies)} requests: "
              f"acknowledged {total / acknowledged:,.0f} spans/s, stored {stored / elapsed:,.0f} spans/s "
              f"({stored} stored, {refused} answers 503), service peak memory {memory:.0f} MiB", flush=True)
        return stored / elapsed
    finally:
        service.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def flood(seconds: float = 20, clients: int = 32, body_mib: int = 4, cap_mib: int = 64) -> None:
    """Many clients at once, each sending big requests as fast as answered: memory must stay
    bounded (the in-flight cap answers 503 instead of buffering)."""
    data_dir = Path(tempfile.mkdtemp(prefix="llmledger-flood-"))
    config = data_dir / "flood.yaml"
    config.write_text(f"http:\n  max_inflight_bytes: {cap_mib << 20}\nwal:\n  fsync: false\n")
    service = start_service(data_dir / "data", "--config", str(config))
    spans_per_body = max(1, (body_mib << 20) // 700)  # about 700 bytes a span
    bodies = make_batches(1)  # a template; the flood body repeats one request's spans
    template = ExportTraceServiceRequest.FromString(bodies[0])
    spans = list(template.resource_spans[0].scope_spans[0].spans)
    answers: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    baseline = peak_memory_mib(service.process.pid)

    def client(n: int):
        request = ExportTraceServiceRequest()
        request.resource_spans.add().CopyFrom(template.resource_spans[0])
        scope = request.resource_spans[0].scope_spans[0]
        del scope.spans[:]
        for i in range(spans_per_body):
            span = scope.spans.add()
            span.CopyFrom(spans[i % len(spans)])
            span.span_id = (n * 10**7 + i + 1).to_bytes(8, "big")
        body = request.SerializeToString()
        conn = http.client.HTTPConnection(service.http_url.split("//", 1)[1], timeout=120)
        while time.monotonic() < deadline:
            conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            response = conn.getresponse()
            response.read()
            with lock:
                answers[response.status] = answers.get(response.status, 0) + 1

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        # Anonymous memory (the process's own) apart from mapped files (log segments, store parts),
        # which the kernel can drop.
        peak_anonymous = 0.0
        while any(t.is_alive() for t in threads):
            peak_anonymous = max(peak_anonymous, _status_mib(service.process.pid, "RssAnon:"))
            time.sleep(0.1)
        memory = peak_memory_mib(service.process.pid)
        print(f"flood: {clients} clients × {body_mib} MiB requests for {seconds:.0f} s, in-flight cap {cap_mib} MiB: "
              f"answers {dict(sorted(answers.items()))}; service peak memory {memory:.0f} MiB, of it anonymous "
              f"{peak_anonymous:.0f} MiB (before the flood {baseline:.0f} MiB)", flush=True)
    finally:
        service.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200, help="requests of 500 spans (default 200)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--transport", choices=("http", "grpc", "both"), default="http")
    parser.add_argument("--compare-log", action="store_true",
                        help="also run without fsync and without the log, to see what the log costs")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each kind, alternating; medians printed")
    parser.add_argument("--flood", action="store_true", help="measure memory under a flood instead")
    args = parser.parse_args()
    if args.flood:
        flood()
        return
    print(f"building {args.batches} requests of {SPANS_PER_BATCH} spans …", flush=True)
    bodies = make_batches(args.batches)
    transports = ("http", "grpc") if args.transport == "both" else (args.transport,)
    modes = list(LOG_MODES) if args.compare_log else ["log"]
    results: dict[tuple[str, str], list[float]] = {(t, m): [] for t in transports for m in modes}
    for _ in range(args.repeat):
        for transport, mode in results:
            results[(transport, mode)].append(run_once(transport, bodies, args.clients, mode))
    for transport in transports:
        medians = {mode: statistics.median(results[(transport, mode)]) for mode in modes}
        line = ", ".join(f"{mode} {rate:,.0f}" for mode, rate in medians.items())
        print(f"median stored spans/s, {transport}: {line}")
        if args.compare_log:
            print(f"  the log costs {1 - medians['log'] / medians['no log']:.0%} of throughput against no log")


if __name__ == "__main__":
    main()
