"""How long a monthly report takes over a month of LLM calls: building it from the analytics
API, drawing its charts, rendering the HTML.

    python benchmarks/report.py --calls 1000000

A temporary embedded store gets `--calls` priced calls in March 2025 and half as many in
February (the comparison month), written by one INSERT ... SELECT per chunk straight into
llm_spans, so that the rollups fill as they do in service. Six models (one unpriced), seven
apps of two models each, 5,000 users each in one app, a third of the calls reading from the
prompt cache, two budgets.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

# The generated calls: model i costs INPUT[i] / CACHED[i] / OUTPUT[i] USD per 1M tokens.
_CALLS = """
INSERT INTO llm_spans (timestamp, trace_id, span_id, service_name, app, environment, provider, operation,
    request_model, response_model, user_id, team, feature, tenant, input_tokens, output_tokens, cache_read_tokens,
    usage_reported, cost, cost_details, price_source, price_version, unpriced, duration_ns, status)
SELECT
    toDateTime64({start:DateTime('UTC')}, 9, 'UTC')
        + toIntervalMicrosecond(intDiv(number * {span_us:UInt64}, {count:UInt64})) AS timestamp,
    lower(hex(sipHash128(number, {seed:UInt64}))) AS trace_id,
    lower(hex(cityHash64(number, {seed:UInt64}))) AS span_id,
    app AS service_name,
    ['support-bot', 'code-review', 'search', 'assistant', 'batch-eval', 'lab', 'docs-qa'][1 + a] AS app,
    'production' AS environment,
    ['openai', 'openai', 'openai', 'anthropic', 'anthropic', 'openai'][m] AS provider,
    'chat' AS operation,
    ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1', 'claude-sonnet-4', 'claude-3-5-haiku', 'acme-llama-ft'][m] AS request_model,
    request_model AS response_model,
    concat('user-', toString(u)) AS user_id,
    ['support', 'platform', 'growth', 'support', 'research', 'research', 'docs'][1 + a] AS team,
    ['answer', 'review', 'rerank', 'chat', 'grade', 'experiment', 'search'][1 + a] AS feature,
    ['acme', 'globex', 'initech'][1 + u % 3] AS tenant,
    input_count AS input_tokens,
    output_count AS output_tokens,
    cached_count AS cache_read_tokens,
    true AS usage_reported,
    if(m = 6, NULL, plain + cached + output) AS cost,
    if(m = 6, map(), map('input', plain, 'cache_read', cached, 'output', output)) AS cost_details,
    if(m = 6, '', 'catalog') AS price_source,
    if(m = 6, '', 'benchmark prices') AS price_version,
    m = 6 AS unpriced,
    400000000 + cityHash64(number, 4) % 4000000000 AS duration_ns,
    if(number % 97 = 0, 'Error', 'Ok') AS status
FROM
(
    -- A user works in one app (and tenant); an app uses two models, mostly the first.
    SELECT number, cityHash64(number, 7) % 5000 AS u, u % 7 AS a,
        [[1, 2], [4, 3], [1, 3], [2, 5], [1, 5], [6, 1], [5, 2]][1 + a][if(cityHash64(number, 5) % 4 = 0, 2, 1)] AS m,
        toDecimal128(['0.15', '2.50', '2.00', '3.00', '0.80', '0'][m], 12) AS input_price,
        toDecimal128(['0.075', '1.25', '0.50', '0.30', '0.08', '0'][m], 12) AS cached_price,
        toDecimal128(['0.60', '10', '8', '15', '4', '0'][m], 12) AS output_price,
        200 + cityHash64(number, 1) % 4000 AS input_count,
        if(number % 3 = 0, intDiv(input_count, 2), 0) AS cached_count,
        20 + cityHash64(number, 2) % 800 AS output_count,
        input_price * (input_count - cached_count) / 1000000 AS plain,
        cached_price * cached_count / 1000000 AS cached,
        output_price * output_count / 1000000 AS output
    FROM numbers({first:UInt64}, {chunk:UInt64})
)
SETTINGS insert_deduplication_token = {token:String}
"""


def _fill(client, start: datetime, end: datetime, count: int, seed: int, chunk: int = 250_000) -> None:
    span_us = int((end - start).total_seconds() * 1_000_000)
    for first in range(0, count, chunk):
        client.command(_CALLS, parameters={
            "start": start, "span_us": span_us, "count": count, "seed": seed, "first": first,
            "chunk": min(chunk, count - first), "token": f"bench-{seed}-{first}"})


def _lap(wall: float, cpu: float) -> tuple[float, float]:
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls in the report's month")
    args = parser.parse_args()

    from llmledger.processor.analytics import runner_for_client
    from llmledger.processor.budgets import Budget, Window
    from llmledger.processor.budgets.store import BudgetStore
    from llmledger.processor.pricing import Pricer
    from llmledger.processor.reports.build import build_report
    from llmledger.processor.reports.periods import period_of
    from llmledger.processor.reports.render import render_html, report_charts
    from llmledger.processor.storage.client import connect
    from llmledger.processor.storage.migrate import migrate

    with tempfile.TemporaryDirectory() as data_dir:
        client = connect(data_dir=Path(data_dir), database="bench")
        migrate(client)
        started = time.perf_counter()
        _fill(client, datetime(2025, 3, 1, tzinfo=timezone.utc), datetime(2025, 4, 1, tzinfo=timezone.utc),
              args.calls, seed=1)
        _fill(client, datetime(2025, 2, 1, tzinfo=timezone.utc), datetime(2025, 3, 1, tzinfo=timezone.utc),
              args.calls // 2, seed=2)
        BudgetStore(client).upsert([
            Budget(id="support-monthly", scope="app", value="support-bot", window=Window("monthly"),
                   limit=Decimal(5000)),
            Budget(id="all-weekly", scope="all", value="", window=Window("weekly", "Europe/Berlin"),
                   limit=Decimal(4000))], source="cli", now=time.time())
        stored = client.query("SELECT count() FROM llm_spans").result_rows[0][0]
        print(f"stored {stored:,} calls in {time.perf_counter() - started:.1f} s")

        run = runner_for_client(client)
        period = period_of("month", date(2025, 3, 1))
        for attempt in ("first run", "second run"):
            timings = {}
            wall, cpu = time.perf_counter(), time.process_time()
            report = build_report(run, period, pricer=Pricer())
            timings["build"] = _lap(wall, cpu)
            wall, cpu = time.perf_counter(), time.process_time()
            charts = report_charts(report)
            timings["charts"] = _lap(wall, cpu)
            wall, cpu = time.perf_counter(), time.process_time()
            html = render_html(report, charts)
            timings["html"] = _lap(wall, cpu)
            total = tuple(sum(t[i] for t in timings.values()) for i in (0, 1))
            # CPU time (of every thread: chDB runs in this process) says what the work costs
            # where other processes share the cores; wall time what a user waits here.
            print(f"{attempt}: monthly report over {report.headline.requests:,} calls in {total[0]:.2f} s "
                  f"(CPU {total[1]:.2f} s): build {timings['build'][0]:.2f} s (CPU {timings['build'][1]:.2f}), "
                  f"{len(charts)} charts {timings['charts'][0]:.2f} s (CPU {timings['charts'][1]:.2f}), "
                  f"HTML {timings['html'][0]:.2f} s; {len(html) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
