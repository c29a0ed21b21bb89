"""How long each cost page takes to render server-side on a month of data.

    python benchmarks/pages.py --calls 1000000 --runs 5

Fills a temporary embedded store with N LLM calls spread over the 30 days up to now
(inserted with SQL straight into llm_spans, so the materialized views build the rollups as
they would from the service; plus their spans in otel_traces), sets three budgets, and
renders every page through the pages' own ASGI app in this process (no network). Prints,
per page, the median and the slowest of the runs after one warm-up, and how many queries
one render ran and how long they took together (the rest is Python: the analytics API and
the template). The pages read rollups (daily ones for whole UTC days), so their times grow
with the number of distinct app/model/team/... combinations per day, not with the number
of calls; the exceptions are single calls (the most expensive ones: a top-N over two
columns of the range's calls; a trace) and per-request outliers, which read the calls.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

# (app, team, feature, provider, model, USD per input token, per output token); None: no price.
_STREAMS = [
    ("support-bot", "support", "answer", "openai", "gpt-4o-mini", "0.00000015", "0.0000006"),
    ("support-bot", "support", "summarize", "anthropic", "claude-3-5-haiku", "0.0000008", "0.000004"),
    ("code-review", "platform", "review", "anthropic", "claude-sonnet-4", "0.000003", "0.000015"),
    ("code-review", "platform", "plan", "openai", "o4-mini", "0.0000011", "0.0000044"),
    ("search", "growth", "embed", "openai", "text-embedding-3-small", "0.00000002", "0"),
    ("search", "growth", "rerank", "openai", "gpt-4.1-mini", "0.0000004", "0.0000016"),
    ("agents", "platform", "plan", "openai", "gpt-4.1", "0.000002", "0.000008"),
    ("lab", "research", "experiment", "openai", "acme-llama-ft", None, None),
]

_INSERT_CALLS = """
INSERT INTO llm_spans (timestamp, trace_id, span_id, parent_span_id, service_name, app, environment, provider,
                       operation, request_model, response_model, user_id, team, feature, tenant, tags, input_tokens,
                       output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, usage_reported, cost,
                       cost_details, price_source, price_version, unpriced, duration_ns, status, error_type)
SELECT
    fromUnixTimestamp64Nano(toInt64({first_ns:Int64} + number * {step_ns:Int64} + cityHash64(number, 1) % {step_ns:Int64})),
    lower(hex(MD5(toString(number)))), substring(lower(hex(MD5(concat('s', toString(number))))), 1, 16), '',
    app, app, ['production', 'staging'][1 + (cityHash64(number, 2) % 10 = 0)], provider,
    if(model LIKE 'text-embedding%', 'embeddings', 'chat'), model, model,
    concat('user-', toString(cityHash64(number, 3) % {users:UInt32})), team, feature,
    concat('tenant-', toString(cityHash64(number, 4) % 20)),
    if(cityHash64(number, 5) % 3 = 0, map(), map('tier', ['gold', 'silver'][1 + cityHash64(number, 5) % 2])),
    input_tokens, output_tokens, cache_read, 0, 0, true,
    if(priced, toDecimal128(in_rate, 12) * (input_tokens - cache_read) + toDecimal128(in_rate, 12) * intDiv(cache_read, 2)
               + toDecimal128(out_rate, 12) * output_tokens, NULL),
    if(priced, map('input', toDecimal128(in_rate, 12) * (input_tokens - cache_read),
                   'cache_read', toDecimal128(in_rate, 12) * intDiv(cache_read, 2),
                   'output', toDecimal128(out_rate, 12) * output_tokens), map()),
    if(priced, 'catalog', ''), if(priced, 'benchmark', ''), NOT priced,
    200000000 + cityHash64(number, 6) % 4000000000, if(cityHash64(number, 7) % 50 = 0, 'Error', 'Ok'),
    if(cityHash64(number, 7) % 50 = 0, 'RateLimitError', '')
FROM
(
    SELECT number, [{streams}][1 + cityHash64(number, 11) % {stream_count:UInt32}] AS stream,
           stream.1 AS app, stream.2 AS team, stream.3 AS feature, stream.4 AS provider, stream.5 AS model,
           stream.6 AS in_rate, stream.7 AS out_rate, stream.8 AS priced,
           -- One call in 200,000 a runaway prompt: the anomalies page has outliers to judge.
           if(number % 200000 = 7, 400000, 100 + cityHash64(number, 8) % 8000) AS input_tokens,
           if(model LIKE 'text-embedding%', 0, 20 + cityHash64(number, 9) % 1500) AS output_tokens,
           if(cityHash64(number, 10) % 3 = 0, intDiv(input_tokens, 2), 0) AS cache_read
    FROM numbers({offset:UInt64}, {count:UInt64})
)
"""

_INSERT_SPANS = """
INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, Duration,
                         StatusCode)
SELECT timestamp, trace_id, span_id, '', concat(operation, ' ', model), 'Client', app, duration_ns, status
FROM llm_spans
WHERE timestamp >= fromUnixTimestamp64Nano(toInt64({from_ns:Int64}))
  AND timestamp < fromUnixTimestamp64Nano(toInt64({to_ns:Int64}))
"""


def _fill(client, calls: int, users: int, end: datetime) -> None:
    start = end - timedelta(days=30)
    first_ns = int(start.timestamp()) * 10**9
    step_ns = (30 * 86400 * 10**9) // calls
    streams = ", ".join(f"('{a}', '{t}', '{f}', '{p}', '{m}', '{i or 0}', '{o or 0}', {i is not None})"
                        for a, t, f, p, m, i, o in _STREAMS)
    sql = _INSERT_CALLS.replace("{streams}", streams)
    chunk = 100_000
    for offset in range(0, calls, chunk):
        count = min(chunk, calls - offset)
        client.command(sql, parameters={"first_ns": first_ns, "step_ns": step_ns, "users": users, "offset": offset,
                                        "count": count, "stream_count": len(_STREAMS)})
        client.command(_INSERT_SPANS, parameters={"from_ns": first_ns + offset * step_ns,
                                                  "to_ns": first_ns + (offset + count) * step_ns})


def _budgets(client):
    from llmledger.processor.budgets import BudgetService, parse_budget_document

    service = BudgetService(lambda: client, settle_seconds=0)
    service.set_budgets(parse_budget_document({"budgets": [
        {"id": "support.monthly", "scope": "app", "value": "support-bot", "window": "monthly", "limit": "500"},
        {"id": "review.daily", "scope": "app", "value": "code-review", "window": "daily", "limit": "20"},
        {"id": "tenant-3.weekly", "scope": "tenant", "value": "tenant-3", "window": "weekly", "limit": "100"},
    ]}, "benchmark").budgets)
    return service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5, help="timed renders per page, after one warm-up")
    parser.add_argument("--queries", action="store_true", help="also print each query of a page's last render")
    parser.add_argument("--only", help="render only the pages whose name contains this")
    args = parser.parse_args()

    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from llmledger.processor.analytics import most_expensive_calls, runner_for_client
    from llmledger.processor.pricing import Pricer
    from llmledger.processor.storage.client import connect
    from llmledger.processor.storage.migrate import migrate
    from llmledger.processor.web import web_routes

    client = connect(data_dir=Path(tempfile.mkdtemp(prefix="llmledger-pages-")), database="pages")
    migrate(client)
    now = datetime.now(timezone.utc)
    began = time.perf_counter()
    _fill(client, args.calls, args.users, now)
    rollups = ("llm_cost_hourly", "llm_cost_daily", "llm_user_cost_daily", "llm_tag_cost_daily", "llm_app_model_hourly",
               "llm_cost_histogram_daily")
    for table in rollups:
        client.command(f"OPTIMIZE TABLE {table} FINAL")  # as merges leave them after a while
    rows = client.query("SELECT count() FROM llm_spans").result_rows[0][0]
    sizes = ", ".join(f"{client.query(f'SELECT count() FROM {table}').result_rows[0][0]:,} in {table}"
                      for table in rollups)
    print(f"{rows:,} LLM calls over 30 days inserted in {time.perf_counter() - began:.0f} s (rollup rows: {sizes})")

    budgets = _budgets(client)
    queries: list[tuple[float, str]] = []  # each query of the last render: its time, its SQL
    store = runner_for_client(client)

    def timed_run(sql, parameters=None):
        began = time.perf_counter()
        try:
            return store(sql, parameters)
        finally:
            queries.append(((time.perf_counter() - began) * 1000, sql))

    app = Starlette(routes=web_routes(runner_factory=lambda: timed_run, authenticate=None,
                                      budget_statuses=budgets.status, pricer=Pricer(warn_unpriced=False)))
    browser = TestClient(app)
    run = runner_for_client(client)
    trace_id = most_expensive_calls(run, now - timedelta(days=1), now, limit=1)[0].trace_id
    pages = {
        "overview (last 7 days)": "/",
        "overview (last 30 days, by app)": "/?range=30d&stack=app",
        "breakdown model (30 days)": "/breakdown?range=30d",
        "breakdown app x model (30 days)": "/breakdown?range=30d&by=app&split=model",
        "breakdown by user (30 days)": "/breakdown?range=30d&by=user",
        "breakdown by tag (30 days)": "/breakdown?range=30d&by=tag:tier",
        "calls (30 days)": "/calls?range=30d",
        "trace": f"/traces/{trace_id}",
        "budgets": "/budgets",
        "anomalies (last 7 days)": "/anomalies",
        "prices (with an estimate)": "/prices?price_model=gpt-4o-mini&input_tokens=1000&output_tokens=200",
    }
    print(f"\n{'page':<36} {'median':>9} {'slowest':>9} {'queries':>8} {'in SQL':>8}"
          f"   (of {args.runs} renders, after a warm-up; queries of the last one)")
    for name, path in pages.items():
        if args.only and args.only not in name:
            continue
        response = browser.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        times = []
        for _ in range(args.runs):
            queries.clear()
            began = time.perf_counter()
            browser.get(path)
            times.append((time.perf_counter() - began) * 1000)
        print(f"{name:<36} {statistics.median(times):>7.0f} ms {max(times):>7.0f} ms {len(queries):>8} "
              f"{sum(ms for ms, _ in queries):>5.0f} ms")
        if args.queries:
            for ms, sql in queries:
                print(f"    {ms:>6.0f} ms  {_first_words(sql)}")


def _first_words(sql: str, width: int = 100) -> str:
    """A query's SQL on one line, its comment lines left out, cut to the width."""
    code = " ".join(line.strip() for line in sql.splitlines() if line.strip() and not line.strip().startswith("--"))
    return code[:width]


if __name__ == "__main__":
    main()
