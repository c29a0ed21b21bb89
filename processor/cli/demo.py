"""`llmledger demo`: see the whole thing work in a minute.

Starts a service on a fresh data directory (or uses the one running there), sends it two
weeks of realistic LLM traffic through the real OpenTelemetry SDK and OTLP/HTTP exporter
— apps, teams, features, users, tenants and tags; traces of several spans; streamed
calls, cached tokens, errors, a model no price list knows, answers from the response cache,
routed calls and calls a budget refused — with a few things worth finding: a spend spike an
hour ago, one runaway call, a new app and a new model. It sets
three budgets, prints what the calls cost, and ends with the address of the cost pages
(keeping the service it started running until Ctrl-C, unless --exit).
"""
from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .query import QueryError, query_service, running_service

HOUR_NS = 3600 * 10**9


@dataclass(frozen=True)
class _Stream:
    app: str
    team: str
    feature: str
    provider: str
    server: str
    model: str
    share: float  # of the calls
    input_tokens: tuple[int, int]
    output_tokens: tuple[int, int]
    stream_share: float = 0.0
    cache_share: float = 0.0  # calls that read the provider's prompt cache
    hit_share: float = 0.0  # calls the instrumentation's response cache answered
    routed_from: str = ""  # the model the app asked for, when a routing rule sends some calls here
    routed_share: float = 0.0


_STREAMS = (
    _Stream("support-bot", "support", "answer", "openai", "api.openai.com", "gpt-4o-mini", 0.30, (800, 4000),
            (100, 600), stream_share=0.7, cache_share=0.5, hit_share=0.15),
    # A routing rule sends short documents to Haiku instead of the Sonnet the app asks for.
    _Stream("support-bot", "support", "summarize", "anthropic", "api.anthropic.com", "claude-3-5-haiku-20241022", 0.15,
            (1500, 5000), (100, 500), cache_share=0.4, routed_from="claude-sonnet-4-20250514", routed_share=0.6),
    _Stream("code-review", "platform", "review", "anthropic", "api.anthropic.com", "claude-sonnet-4-20250514", 0.14,
            (2000, 12000), (200, 1500), stream_share=0.5, cache_share=0.4),
    _Stream("code-review", "platform", "plan", "openai", "api.openai.com", "o4-mini", 0.06, (1000, 4000), (500, 3000)),
    _Stream("search", "growth", "embed", "openai", "api.openai.com", "text-embedding-3-small", 0.20, (50, 500), (0, 0)),
    _Stream("search", "growth", "rerank", "gcp.gemini", "generativelanguage.googleapis.com", "gemini-2.5-pro", 0.10,
            (500, 2500), (50, 300), stream_share=0.3),
    # A fine-tuned model no price list knows: stored with its tokens, unpriced.
    _Stream("lab", "research", "experiment", "openai", "localhost", "acme-llama-ft-v3", 0.05, (500, 2000), (100, 400)),
)
_TENANTS = ("acme", "globex", "initech")
_BUDGETS = [
    {"id": "support-bot.monthly", "scope": "app", "value": "support-bot", "window": "monthly", "limit": "40",
     "thresholds": ["0.5", "0.8", "1"], "hard": False, "description": "support bot, all environments"},
    {"id": "code-review.daily", "scope": "app", "value": "code-review", "window": "daily", "limit": "2",
     "thresholds": ["0.5", "0.8", "1"], "hard": True, "fallback_model": "claude-3-5-haiku-20241022",
     "description": "degrade to Haiku once the day's review budget is spent"},
    {"id": "acme.weekly", "scope": "tenant", "value": "acme", "window": "weekly", "limit": "100",
     "thresholds": ["0.8", "1"], "hard": True},
]


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="send two weeks of realistic LLM traffic to a service and show "
                                                "the cost pages")
    parser.add_argument("--calls", type=int, default=2500, help="LLM calls of everyday traffic (default 2500)")
    parser.add_argument("--days", type=int, default=14, help="days of history they spread over (default 14)")
    parser.add_argument("--data-dir", help="data directory for the demo's service (default: a temporary one)")
    parser.add_argument("--http-port", type=int, default=0, help="port of the service the demo starts "
                                                                 "(default: a free one)")
    parser.add_argument("--exit", action="store_true", help="stop the service the demo started when done, "
                                                            "instead of serving the pages until Ctrl-C")
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.calls < 100 or args.days < 8:
        print("llmledger demo: use at least --calls 100 and --days 8 (anomalies are judged against the week "
              "before)", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="llmledger-demo-"))
    service = running_service(data_dir)
    process = None
    if service is None:
        process, service = _start_service(data_dir, args.http_port)
    try:
        rng = random.Random(args.seed)
        now_ns = time.time_ns()
        spans = _everyday(rng, args.calls, args.days, now_ns) + _unusual(rng, now_ns)
        print(f"sending {len(spans)} LLM calls over {args.days} days to {service['http']} …", flush=True)
        _send(service["http"], spans, rng)
        stored = _wait_stored(service, len(spans))
        print(f"{stored} of {len(spans)} calls stored\n")
        _admin(service, "POST", "/v1/budgets", {"budgets": _BUDGETS})
        _admin(service, "POST", "/v1/budgets/evaluate", {})
        _report(service)
    except (QueryError, OSError) as exc:
        print(f"llmledger demo: {exc}", file=sys.stderr)
        if process is not None:
            process.terminate()
        return 1
    print(f"\nthe data stays in {data_dir}")
    print(f"cost pages: {service['http']}/")
    if process is None:
        return 0
    if args.exit:
        _stop(process)
        print(f"(stopped; see them again with: llmledger serve --data-dir {data_dir})")
        return 0
    print("serving them until Ctrl-C", flush=True)
    try:
        process.wait()
    except KeyboardInterrupt:
        _stop(process)
    return 0


def _start_service(data_dir: Path, port: int):
    command = [sys.executable, "-m", "llmledger.processor.cli", "serve", "--data-dir", str(data_dir),
               "--http-port", str(port), "--grpc-port", "0"]
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


def _stop(process) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


# --- the traffic -------------------------------------------------------------------------------------


@dataclass
class _Call:
    stream: _Stream
    start_ns: int
    input_tokens: int
    output_tokens: int
    cached: int = 0
    app: str = ""
    model: str = ""
    user: str = ""
    tenant: str = ""
    tier: str = ""
    error: bool = False
    streaming: bool = False
    cache_hit: str = ""  # "exact" | "semantic": answered from the response cache
    requested_model: str = ""  # routed: what the app asked for
    refused: bool = False  # a budget refused it: never sent


def _everyday(rng: random.Random, calls: int, days: int, now_ns: int) -> list[_Call]:
    """Calls spread over the last `days` days, busy in the (UTC) working day."""
    hours = days * 24
    weights = [_busy(hour) for hour in range(hours)]
    first_hour = now_ns - hours * HOUR_NS
    users = [f"user-{n:03d}" for n in range(40)]
    found = []
    for _ in range(calls):
        stream = rng.choices(_STREAMS, weights=[s.share for s in _STREAMS])[0]
        hour = rng.choices(range(hours), weights=weights)[0]
        start = first_hour + hour * HOUR_NS + rng.randrange(HOUR_NS)
        found.append(_call(rng, stream, min(start, now_ns - 10**9), users))
    return found


def _busy(hour_index: int) -> float:
    hour = hour_index % 24
    return 1.0 if 8 <= hour <= 18 else 0.25


def _call(rng: random.Random, stream: _Stream, start_ns: int, users: list[str], **changes) -> _Call:
    input_tokens = rng.randint(*stream.input_tokens)
    cached = (input_tokens // 2) if rng.random() < stream.cache_share else 0
    call = _Call(stream=stream, start_ns=start_ns, input_tokens=input_tokens,
                 output_tokens=rng.randint(*stream.output_tokens), cached=cached, app=stream.app, model=stream.model,
                 user=rng.choice(users), tenant=rng.choice(_TENANTS), tier=rng.choice(("gold", "silver", "")),
                 error=rng.random() < 0.02, streaming=rng.random() < stream.stream_share)
    if rng.random() < stream.hit_share:
        call.cache_hit, call.cached = rng.choice(("exact", "exact", "semantic")), 0
    elif rng.random() < stream.routed_share:
        call.requested_model = stream.routed_from
    for name, value in changes.items():
        setattr(call, name, value)
    return call


def _unusual(rng: random.Random, now_ns: int) -> list[_Call]:
    """What the anomaly page should find."""
    review = next(s for s in _STREAMS if s.feature == "review")
    answer = next(s for s in _STREAMS if s.feature == "answer")
    users = ["user-007"]
    found = []
    # A spend spike in the hour before last: a review job ran over every open pull request; the
    # review budget refuses the calls of the hour after. The spike spends the team's daily
    # budget, so it stays in today (UTC): early in the day it runs, faster, in today's first
    # minutes, and the refusals follow it there.
    spike_start, spacing = (now_ns // HOUR_NS - 2) * HOUR_NS, 80 * 10**9
    refusals_start, refusal_spacing = spike_start + HOUR_NS, 120 * 10**9
    day_start = now_ns - now_ns % (24 * HOUR_NS)
    if spike_start < day_start:
        spike_start, spacing = day_start, max(1, (now_ns - 10**9 - day_start) // 50)  # all 46 before now
        refusals_start, refusal_spacing = day_start + 42 * spacing, spacing
    for i in range(40):
        found.append(_call(rng, review, spike_start + i * spacing, users, input_tokens=20_000, cached=0,
                           output_tokens=2_000, error=False))
    # One runaway call two days ago: a 180k-token prompt, ten times what review calls cost.
    found.append(_call(rng, review, now_ns - 2 * 24 * HOUR_NS, users, input_tokens=180_000, cached=0,
                       output_tokens=8_000, error=False))
    # Since yesterday: a new app on a known model, and the review app trying a new model.
    for i in range(20):
        found.append(_call(rng, answer, now_ns - 20 * HOUR_NS + i * 60 * 10**9, users, app="batch-eval"))
    trial = replace(review, provider="openai", server="api.openai.com", model="gpt-4.1")
    for i in range(8):
        found.append(_call(rng, trial, now_ns - 10 * HOUR_NS + i * 300 * 10**9, users))
    # The calls the review budget refused after the spike: never sent, so they cost nothing.
    for i in range(6):
        found.append(_call(rng, review, refusals_start + i * refusal_spacing, users, refused=True, error=False,
                           input_tokens=0, output_tokens=0, cached=0))
    return found


def _send(http_url: str, calls: list[_Call], rng: random.Random) -> None:
    """Each call in a trace of its own: an incoming request, sometimes a retrieval step, the LLM call."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

    providers = {}

    def tracer_for(app: str):
        if app not in providers:
            provider = TracerProvider(resource=Resource.create({"service.name": app,
                                                                "deployment.environment.name": "production"}))
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{http_url}/v1/traces"),
                                                           max_queue_size=20_000, max_export_batch_size=512))
            providers[app] = provider
        return providers[app].get_tracer("llmledger.demo")

    for n, call in enumerate(calls):
        tracer = tracer_for(call.app)
        stream = call.stream
        latency_ns = rng.randint(300, 4000) * 10**6 + call.output_tokens * 4 * 10**6
        root = tracer.start_span(f"POST /{stream.feature}", kind=SpanKind.SERVER, start_time=call.start_ns - 20 * 10**6)
        context = set_span_in_context(root)
        begin = call.start_ns
        if rng.random() < 0.5:
            step = tracer.start_span("retrieve context", kind=SpanKind.INTERNAL, context=context, start_time=begin)
            step.end(end_time=begin + 40 * 10**6)
            begin += 50 * 10**6
        operation = "embeddings" if "embedding" in call.model else "chat"
        attributes = {
            "gen_ai.operation.name": operation, "gen_ai.provider.name": stream.provider,
            "gen_ai.request.model": call.model, "gen_ai.response.model": call.model,
            "server.address": stream.server,
            "gen_ai.request.stream": call.streaming,
            "user.id": call.user, "llmledger.team": stream.team, "llmledger.feature": stream.feature,
            "llmledger.tenant": call.tenant,
        }
        if not call.refused:
            attributes.update({"gen_ai.response.id": f"resp-{n}","gen_ai.usage.input_tokens": call.input_tokens,
                               "gen_ai.usage.output_tokens": call.output_tokens,
                               "gen_ai.usage.cache_read.input_tokens": call.cached})
        if call.cache_hit:
            attributes.update({"llmledger.cache.hit": True, "llmledger.cache.kind": call.cache_hit})
        if call.requested_model:
            attributes.update({"llmledger.routing.requested_model": call.requested_model,
                               "llmledger.routing.kind": "rule", "llmledger.routing.reason": "short documents"})
        if call.tier:
            attributes["llmledger.tag.customer_tier"] = call.tier
        if call.streaming:
            attributes["gen_ai.response.time_to_first_chunk"] = round(rng.uniform(0.1, 0.8), 3)
        if call.error:
            attributes["error.type"] = "RateLimitError"
        if call.refused:
            attributes["error.type"] = "BudgetExceededError"
        span = tracer.start_span(f"{operation} {call.model}", kind=SpanKind.CLIENT, attributes=attributes,
                                 context=context, start_time=begin)
        if call.error or call.refused:
            span.set_status(Status(StatusCode.ERROR, "budget exceeded" if call.refused else "rate limited"))
        span.end(end_time=begin + latency_ns)
        root.end(end_time=begin + latency_ns + 15 * 10**6)
    for provider in providers.values():
        provider.shutdown()  # flushes through the OTLP exporter


def _wait_stored(service: dict, sent: int) -> int:
    deadline = time.monotonic() + 120
    while True:
        _, rows = query_service(service, "SELECT sum(requests) FROM llm_cost_hourly")  # what the pages read
        stored = int(rows[0][0])
        if stored >= sent or time.monotonic() > deadline:
            return stored
        time.sleep(0.3)


def _admin(service: dict, method: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(service["http"] + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {service['token']}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def _report(service: dict) -> None:
    from .. import format as fmt
    from ..analytics import cost_by, find_anomalies
    from .output import Column, table

    def run(sql, parameters=None):
        return query_service(service, sql, parameters)

    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(days=30)
    rows = cost_by(run, "app", start, end)
    columns = [Column("app"), Column("cost", numeric=True), Column("calls", numeric=True),
               Column("unpriced", numeric=True), Column("input tokens", numeric=True),
               Column("output tokens", numeric=True)]
    print("Cost by app, last 30 days")
    print(table(columns, [[r.key, fmt.money_of(r), fmt.tokens(r.requests), fmt.tokens(r.unpriced_requests),
                           fmt.tokens(r.input_tokens), fmt.tokens(r.output_tokens)] for r in rows]))
    found = find_anomalies(run, end - timedelta(days=7), end)
    kinds = ", ".join(sorted({a.kind.replace("_", " ") for a in found})) or "none"
    print(f"\n{fmt.count(len(found), 'anomaly', 'anomalies')} in the last 7 days ({kinds}): "
          "see `llmledger anomalies` or the anomalies page")
