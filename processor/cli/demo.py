"""`llmledger demo`: see the whole thing work in a minute.

Starts a service on a fresh data directory (or uses a running one), sends it realistic
LLM traffic through the real OpenTelemetry SDK and OTLP/HTTP exporter — several apps,
users, teams, models, streamed and not, cached tokens, an unknown model — then prints
what it cost by app and by model.
"""
from __future__ import annotations

import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .query import QueryError, query_service, running_service

# (app, team, feature, provider, server, model, streaming share)
_APPS = [
    ("support-bot", "support", "answer", "openai", "api.openai.com", "gpt-4o-mini", 0.7),
    ("support-bot", "support", "summarize", "anthropic", "api.anthropic.com", "claude-3-5-haiku-20241022", 0.0),
    ("code-review", "platform", "review", "anthropic", "api.anthropic.com", "claude-sonnet-4-20250514", 0.5),
    ("code-review", "platform", "plan", "openai", "api.openai.com", "o4-mini", 0.0),
    ("search", "growth", "embed", "openai", "api.openai.com", "text-embedding-3-small", 0.0),
    ("search", "growth", "rerank", "gcp.gemini", "generativelanguage.googleapis.com", "gemini-2.5-pro", 0.3),
    ("lab", "research", "experiment", "openai", "localhost", "acme-llama-ft-v3", 0.0),  # not in any price list
]


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="send realistic LLM traffic to a service and show the costs")
    parser.add_argument("--calls", type=int, default=300, help="LLM calls to send (default 300)")
    parser.add_argument("--data-dir", help="data directory for the demo's service (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(func=run)


def run(args) -> int:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="llmledger-demo-"))
    service = running_service(data_dir)
    process = None
    if service is None:
        process, service = _start_service(data_dir)
    try:
        print(f"sending {args.calls} LLM calls to {service['http']} …", flush=True)
        sent = _send_traffic(service["http"], args.calls, random.Random(args.seed))
        stored = _wait_stored(service, sent)
        print(f"{stored} of {sent} calls stored in llm_spans\n")
        _report(service)
    except QueryError as exc:
        print(f"llmledger demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    print(f"\nthe data stays in {data_dir}: try\n  llmledger query --data-dir {data_dir} "
          "\"SELECT user_id, sum(cost) FROM llm_spans GROUP BY user_id ORDER BY 2 DESC LIMIT 5\"")
    return 0


def _start_service(data_dir: Path):
    command = [sys.executable, "-m", "llmledger.processor.cli", "serve", "--data-dir", str(data_dir),
               "--http-port", "0", "--grpc-port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not re.search(r"OTLP/HTTP on (\S+?)[,;]", line):
        process.kill()
        raise SystemExit(f"llmledger demo: the service did not start: {line.strip() or 'no output'}")
    print(line.strip())
    deadline = time.monotonic() + 30
    while (service := running_service(data_dir)) is None:
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit("llmledger demo: the service did not write its service file")
        time.sleep(0.05)
    return process, service


def _send_traffic(http_url: str, calls: int, rng: random.Random) -> int:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind

    providers = {}
    for app in {a[0] for a in _APPS}:
        provider = TracerProvider(resource=Resource.create({"service.name": app,
                                                            "deployment.environment.name": "production"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{http_url}/v1/traces")))
        providers[app] = provider
    users = [f"user-{n:03d}" for n in range(25)]
    start = time.time_ns() - calls * 1_000_000_000  # spread over the last minutes
    for n in range(calls):
        app, team, feature, provider_name, server, model, stream_share = rng.choice(_APPS)
        tracer = providers[app].get_tracer("llmledger.demo")
        operation = "embeddings" if "embedding" in model else "chat"
        streaming = rng.random() < stream_share
        input_tokens = rng.randint(200, 6000)
        cached = rng.choice([0, 0, input_tokens // 2]) if operation == "chat" else 0
        output_tokens = 0 if operation == "embeddings" else rng.randint(50, 900)
        attributes = {
            "gen_ai.operation.name": operation, "gen_ai.provider.name": provider_name,
            "gen_ai.request.model": model, "gen_ai.response.model": model,
            "gen_ai.response.id": f"resp-{n}", "server.address": server, "gen_ai.request.stream": streaming,
            "gen_ai.usage.input_tokens": input_tokens, "gen_ai.usage.output_tokens": output_tokens,
            "gen_ai.usage.cache_read.input_tokens": cached,
            "user.id": rng.choice(users), "llmledger.team": team, "llmledger.feature": feature,
        }
        if streaming:
            attributes["gen_ai.response.time_to_first_chunk"] = round(rng.uniform(0.1, 0.8), 3)
        begin = start + n * 1_000_000_000
        span = tracer.start_span(f"{operation} {model}", kind=SpanKind.CLIENT, attributes=attributes,
                                 start_time=begin)
        span.end(end_time=begin + rng.randint(300, 4000) * 1_000_000)
    for provider in providers.values():
        provider.shutdown()  # flushes through the OTLP exporter
    return calls


def _wait_stored(service: dict, sent: int) -> int:
    deadline = time.monotonic() + 60
    while True:
        _, rows = query_service(service, "SELECT count() FROM llm_spans")
        stored = int(rows[0][0])
        if stored >= sent or time.monotonic() > deadline:
            return stored
        time.sleep(0.2)


def _report(service: dict) -> None:
    from ..query import format_rows

    for title, dimension in (("Cost by app", "app"), ("Cost by model", "model")):
        columns, rows = query_service(service, f"""
            SELECT {dimension}, count() AS calls, sum(input_tokens) AS input_tokens,
                   sum(output_tokens) AS output_tokens, sum(cost) AS cost_usd, countIf(unpriced = 1) AS unpriced
            FROM llm_spans GROUP BY {dimension} ORDER BY cost_usd DESC""")
        print(f"{title}\n{format_rows(columns, rows, 'table')}\n")
