"""End-to-end ingest throughput: OTLP requests of 500 LLM spans into `llmledger serve`
on the embedded store, until every span is in `llm_spans`.

Prints, per run and as medians of the runs: spans/s stored (until the last is in llm_spans)
and accepted (until the last 200), the service's CPU per span (its process and its worker
processes, user + system), and its peak memory (VmHWM of the service plus its workers).
The client runs on the same machine and takes CPU from the service: the figures are a
floor for what the service does with the machine to itself.

    python benchmarks/ingest.py [--batches 200] [--transport http|grpc|both] [--compare-log] [--repeat 3]
    python benchmarks/ingest.py --flood --transport both   # memory and answers under a flood of 13 MiB requests
"""
from __future__ import annotations

import argparse
import http.client
import os
import queue
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
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


def service_pids(pid: int) -> list[int]:
    """The service and its worker processes."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry.name))
    return [pid, *children]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


# How the write-ahead log runs: on disk with fsync (the default), or in memory (what the log
# costs is the difference to this).
LOG_MODES = {
    "log": "wal:\n  fsync: true\n",
    "no log": "wal:\n  enabled: false\n",
}


@dataclass
class Result:
    stored: float  # spans/s
    accepted: float  # spans/s
    cpu_us: float  # service CPU per span
    peak_mib: float


def run_once(transport: str, bodies: list[bytes], clients: int, log_mode: str, workers: int | None = None) -> Result:
    """Runs one measurement, prints it and returns it."""
    data_dir = Path(tempfile.mkdtemp(prefix="llmledger-bench-"))
    config = data_dir / "bench.yaml"
    config.write_text(LOG_MODES[log_mode] + (f"workers:\n  processes: {workers}\n" if workers is not None else ""))
    service = start_service(data_dir / "data", "--config", str(config))
    try:
        total = len(bodies) * SPANS_PER_BATCH
        pids = service_pids(service.process.pid)
        cpu_before = cpu_seconds(pids)
        started = time.perf_counter()
        if transport == "http":
            refused = send_http(service.http_url, bodies, clients)
        else:
            refused = send_grpc(service.grpc_address, bodies, clients)
        acknowledged = time.perf_counter() - started
        stored = service.wait_for("SELECT count() FROM llm_spans", total, timeout=600)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pids) - cpu_before
        memory = sum(peak_memory_mib(pid) for pid in pids)
        result = Result(stored / elapsed, total / acknowledged, cpu / total * 1e6, memory)
        print(f"{transport:4s} {log_mode:13s} {total} spans in {len(bodies)} requests: stored {result.stored:,.0f} "
              f"spans/s, accepted {result.accepted:,.0f} spans/s, service CPU {result.cpu_us:.1f} µs/span "
              f"({len(pids)} processes), peak memory {memory:.0f} MiB ({stored} stored, {refused} answers 503)",
              flush=True)
        return result
    finally:
        service.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def flood(transport: str, seconds: float = 20, clients: int = 48, body_mib: int = 13) -> None:
    """Many clients at once, each sending big requests and retrying 1 s after a refusal (as
    the exporters do): memory must stay bounded, refusals must be proper answers (503 or
    UNAVAILABLE, never a reset), and the requests taken must be answered in bounded time."""
    data_dir = Path(tempfile.mkdtemp(prefix="llmledger-flood-"))
    config = data_dir / "flood.yaml"
    config.write_text("wal:\n  fsync: false\n")
    service = start_service(data_dir / "data", "--config", str(config))
    spans_per_body = max(1, (body_mib << 20) // 700)  # about 700 bytes a span
    template = ExportTraceServiceRequest.FromString(make_batches(1)[0])
    spans = list(template.resource_spans[0].scope_spans[0].spans)
    request = ExportTraceServiceRequest()
    request.resource_spans.add().CopyFrom(template.resource_spans[0])
    scope = request.resource_spans[0].scope_spans[0]
    del scope.spans[:]
    for i in range(spans_per_body):
        scope.spans.add().CopyFrom(spans[i % len(spans)])
    body = request.SerializeToString()  # the same spans from every client: after the first, duplicates
    answers: dict[object, int] = {}
    accepted_seconds: list[float] = []
    lock = threading.Lock()

    if transport == "http":
        address = service.http_url.split("//", 1)[1]

        def send_once() -> tuple[object, bool]:
            conn = http.client.HTTPConnection(address, timeout=120)
            try:
                conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
                response = conn.getresponse()
                response.read()
                return response.status, response.status == 200
            except (ConnectionError, http.client.HTTPException) as exc:
                return type(exc).__name__, False
            finally:
                conn.close()
    else:
        import grpc

        own = threading.local()  # a connection per client, as with separate processes

        def send_once() -> tuple[object, bool]:
            if not hasattr(own, "export"):
                own.channel = grpc.insecure_channel(service.grpc_address)
                own.export = own.channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            try:
                own.export(body, timeout=60)
                return "OK", True
            except grpc.RpcError as error:
                return error.code().name, False

    def client(deadline: float):
        while time.monotonic() < deadline:
            started = time.monotonic()
            outcome, accepted = send_once()
            with lock:
                answers[outcome] = answers.get(outcome, 0) + 1
                if accepted:
                    accepted_seconds.append(time.monotonic() - started)
            if not accepted:
                time.sleep(1)

    try:
        started = time.monotonic()
        send_once()  # alone, for comparison (and to warm up)
        alone = time.monotonic() - started
        baseline = _status_mib(service.process.pid, "VmRSS:")
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=client, args=(deadline,)) for _ in range(clients)]
        for t in threads:
            t.start()
        peak = 0.0
        while any(t.is_alive() for t in threads):
            peak = max(peak, _status_mib(service.process.pid, "VmRSS:"))
            time.sleep(0.1)
        accepted_seconds.sort()
        latency = (f"{statistics.median(accepted_seconds):.1f} s median, {accepted_seconds[-1]:.1f} s at most"
                   if accepted_seconds else "none accepted")
        print(f"flood over {transport}: {clients} clients x {body_mib} MiB requests ({spans_per_body} spans) for "
              f"{seconds:.0f} s: answers {answers}; service memory (RSS) {baseline:.0f} MiB before, {peak:.0f} MiB "
              f"at the peak; accepted requests answered in {latency} (one alone: {alone:.1f} s)", flush=True)
    finally:
        service.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200, help="requests of 500 spans (default 200)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--transport", choices=("http", "grpc", "both"), default="http")
    parser.add_argument("--compare-log", action="store_true",
                        help="also run with the log in memory (wal.enabled: false), to see what the log costs")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each kind, alternating; medians printed")
    parser.add_argument("--workers", type=int, help="worker processes (workers.processes; default: the service's)")
    parser.add_argument("--flood", action="store_true", help="measure memory under a flood instead")
    args = parser.parse_args()
    if args.flood:
        for transport in ("http", "grpc") if args.transport == "both" else (args.transport,):
            flood(transport)
        return
    print(f"building {args.batches} requests of {SPANS_PER_BATCH} spans …", flush=True)
    bodies = make_batches(args.batches)
    transports = ("http", "grpc") if args.transport == "both" else (args.transport,)
    modes = list(LOG_MODES) if args.compare_log else ["log"]
    results: dict[tuple[str, str], list[Result]] = {(t, m): [] for t in transports for m in modes}
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before the runs", flush=True)
    for _ in range(args.repeat):
        for transport, mode in results:
            results[(transport, mode)].append(run_once(transport, bodies, args.clients, mode, args.workers))
    print(f"medians of {args.repeat} runs (load average {os.getloadavg()[0]:.1f} after the runs):")
    for (transport, mode), runs in results.items():
        def median(field):
            return statistics.median(getattr(run, field) for run in runs)
        print(f"  {transport:4s} {mode:13s} stored {median('stored'):>7,.0f} spans/s  accepted {median('accepted'):>7,.0f} "
              f"spans/s  service CPU {median('cpu_us'):5.1f} µs/span  peak memory {median('peak_mib'):4.0f} MiB")
    if args.compare_log:
        for transport in transports:
            stored = {mode: statistics.median(run.stored for run in results[(transport, mode)]) for mode in modes}
            print(f"  {transport}: the log costs {1 - stored['log'] / stored['no log']:.0%} of stored throughput "
                  "against the log in memory")


if __name__ == "__main__":
    main()
