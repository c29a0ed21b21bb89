"""What a worker process spends on one span: reading, pricing and encoding export requests
(`prepare.prepare_request`), in this process, without HTTP, the log or the store.

Requests of 500 spans are built once:
- `ingest`: the LLM spans benchmarks/ingest.py sends (so the figure matches its end to end);
- `mixed`: what an app's OTel SDK exports: a server span per user request, GenAI chat and
  embedding spans as llmledger's instrumentation writes them (doubles, arrays, attribution),
  and the non-LLM spans around them (HTTP client and database spans, one with an event).

Each round parses every request from its bytes, prepares it and pickles the result, as a
worker does. Printed: process CPU µs per span for the three steps (medians of the rounds) and
the best round's total. CPU time is less disturbed by other load on the machine than wall time,
but a busy machine still inflates it; instructions per span, counted under valgrind
(`--instructions`), do not change with the load at all.

    python benchmarks/prepare.py [--requests 20] [--rounds 5] [--workload ingest|mixed|both]
    python benchmarks/prepare.py --profile            # cProfile: the 25 functions costing most
    python benchmarks/prepare.py --instructions --requests 2   # instructions per span, under valgrind
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pickle
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import SPANS_PER_BATCH, make_batches  # noqa: E402

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

from llmledger.processor.prepare import prepare_request  # noqa: E402
from llmledger.processor.pricing import Pricer  # noqa: E402
from llmledger.processor.pricing.savings import SavingsPricer  # noqa: E402

_CHAT_MODELS = [("openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18"), ("openai", "gpt-4.1", "gpt-4.1-2025-04-14"),
                ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4-20250514")]


def mixed_batches(count: int) -> list[bytes]:
    """`count` requests of SPANS_PER_BATCH spans an instrumented app exports: per user request a
    server span, 3 chat calls, an embedding call, an HTTP client span and a database span."""
    bodies = []
    serial = 0
    for b in range(count):
        memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({
            "service.name": f"support-bot-{b % 3}", "deployment.environment.name": "production",
            "service.version": "1.4.2", "host.name": "web-7",
        }))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        app = provider.get_tracer("app")
        genai = provider.get_tracer("llmledger.instrumentation.openai", "0.1.0")
        while len(memory.get_finished_spans()) < SPANS_PER_BATCH:
            with app.start_as_current_span("POST /answer", kind=SpanKind.SERVER, attributes={
                    "http.request.method": "POST", "http.route": "/answer", "http.response.status_code": 200}):
                for n in range(3):
                    serial += 1
                    provider_name, model, response_model = _CHAT_MODELS[serial % len(_CHAT_MODELS)]
                    genai.start_span(f"chat {model}", kind=SpanKind.CLIENT, attributes={
                        "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider_name,
                        "gen_ai.request.model": model, "gen_ai.request.max_tokens": 512,
                        "gen_ai.request.temperature": 0.2, "gen_ai.request.stream": n == 2,
                        "server.address": "api.example.com", "server.port": 443,
                        "gen_ai.response.model": response_model, "gen_ai.response.id": f"chatcmpl-{serial:08d}",
                        "gen_ai.response.finish_reasons": ["stop"],
                        "gen_ai.usage.input_tokens": 1200 + serial % 700, "gen_ai.usage.output_tokens": 300,
                        "gen_ai.usage.cache_read.input_tokens": 1024 if n else 0,
                        "user.id": f"user-{serial % 50}", "session.id": f"session-{serial % 10}",
                        "llmledger.feature": "answer", "llmledger.team": "care",
                    }).end()
                genai.start_span("embeddings text-embedding-3-small", kind=SpanKind.CLIENT, attributes={
                    "gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "text-embedding-3-small", "server.address": "api.openai.com",
                    "gen_ai.usage.input_tokens": 42, "user.id": f"user-{serial % 50}",
                }).end()
                app.start_span("GET", kind=SpanKind.CLIENT, attributes={
                    "http.request.method": "GET", "url.full": "https://kb.example.com/articles?q=refund",
                    "http.response.status_code": 200, "server.address": "kb.example.com"}).end()
                with app.start_as_current_span("SELECT answers", kind=SpanKind.CLIENT, attributes={
                        "db.system.name": "postgresql", "db.query.text": "SELECT * FROM answers WHERE id = $1",
                        "db.namespace": "support"}) as db_span:
                    db_span.add_event("rows fetched", {"rows": 3})
        provider.shutdown()
        spans = memory.get_finished_spans()[:SPANS_PER_BATCH]
        bodies.append(encode_spans(spans).SerializeToString())
    return bodies


WORKLOADS = {"ingest": make_batches, "mixed": mixed_batches}


def prepare_all(bodies: list[bytes], pricer: Pricer, savings: SavingsPricer, now_ns: int) -> tuple[float, float, float]:
    """Process CPU seconds to parse, prepare and pickle every request, as a worker does."""
    parse = prepare = dump = 0.0
    for body in bodies:
        started = time.process_time()
        request = ExportTraceServiceRequest.FromString(body)
        parsed = time.process_time()
        prepared = prepare_request(request, pricer=pricer, savings=savings, now_ns=now_ns)
        done = time.process_time()
        pickle.dumps((True, prepared), protocol=pickle.HIGHEST_PROTOCOL)
        parse += parsed - started
        prepare += done - parsed
        dump += time.process_time() - done
    return parse, prepare, dump


def measure(name: str, bodies: list[bytes], rounds: int) -> None:
    pricer = Pricer()
    savings = SavingsPricer(pricer)
    now_ns = time.time_ns()
    spans = len(bodies) * SPANS_PER_BATCH
    prepare_all(bodies[:2], pricer, savings, now_ns)  # warm: imports, price caches
    figures = [prepare_all(bodies, pricer, savings, now_ns) for _ in range(rounds)]
    parse, prepare, dump = (statistics.median(step[i] for step in figures) * 1e6 / spans for i in range(3))
    best = min(sum(step) for step in figures) * 1e6 / spans
    print(f"{name:7s} {spans} spans x {rounds} rounds: {parse + prepare + dump:6.1f} µs/span CPU "
          f"(parse {parse:.1f}, prepare_request {prepare:.1f}, pickle {dump:.1f}; medians), best round {best:.1f}",
          flush=True)


def count_instructions(workload: str, requests: int) -> None:
    """Instructions per span, counted by valgrind (callgrind): not disturbed by other load at all.
    This script runs under it twice, with one round and with three; the difference is two rounds."""
    import re
    import shutil
    import subprocess
    if not shutil.which("valgrind"):
        print("valgrind is not installed: no instruction counts")
        return
    counts = []
    for rounds in (1, 3):
        run = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                              __file__, "--workload", workload, "--requests", str(requests), "--rounds", str(rounds)],
                             capture_output=True, text=True, check=True)
        counts.append(int(re.search(r"Collected : (\d+)", run.stderr).group(1)))
    spans = 2 * requests * SPANS_PER_BATCH
    print(f"{workload:7s} {(counts[1] - counts[0]) / spans:,.0f} instructions/span (callgrind, parse + prepare_request"
          " + pickle)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20, help=f"requests of {SPANS_PER_BATCH} spans per workload")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workload", choices=(*WORKLOADS, "both"), default="both")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one round instead")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per span under valgrind instead (slow: use --requests 2)")
    args = parser.parse_args()
    workloads = list(WORKLOADS) if args.workload == "both" else [args.workload]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    for name in workloads:
        if args.instructions:
            count_instructions(name, args.requests)
            continue
        bodies = WORKLOADS[name](args.requests)
        if args.profile:
            pricer = Pricer()
            savings = SavingsPricer(pricer)
            now_ns = time.time_ns()
            prepare_all(bodies[:2], pricer, savings, now_ns)
            profile = cProfile.Profile()
            profile.runcall(prepare_all, bodies, pricer, savings, now_ns)
            print(f"--- {name}: {len(bodies) * SPANS_PER_BATCH} spans, one round under cProfile")
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            continue
        measure(name, bodies, args.rounds)
    print(f"load average {os.getloadavg()[0]:.1f} after", flush=True)


if __name__ == "__main__":
    main()
