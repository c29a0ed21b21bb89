"""/metrics stays small whatever label values the spans invent, and a scrape never holds up
the other endpoints (it renders on a worker thread)."""
from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import anyio.to_thread
import httpx
from prometheus_client import generate_latest
from starlette.applications import Starlette

from llmledger.processor.budgets import BudgetService, budget_routes
from llmledger.processor.ops_api import OpsApi
from llmledger.processor.record import LlmCall
from llmledger.processor.telemetry import CostMetrics, LabelValues, ProcessorMetrics


def _call(i: int, **fields) -> LlmCall:
    values = {"provider": "openai", "request_model": "gpt-4o-mini", "app": "checkout", "environment": "prod",
              **fields}
    return LlmCall(timestamp_ns=1, trace_id=f"{i:032x}", span_id=f"{i:016x}", cost=Decimal("0.001"),
                   input_tokens=10, output_tokens=2, **values)


def _series(text: str, metric: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(metric + "{")]


def test_100k_made_up_apps_providers_and_models_keep_metrics_small():
    metrics = ProcessorMetrics()
    metrics.costs.observe([_call(0)])  # a real app, seen first, keeps its name
    flood = [_call(i, app=f"app-{i}", provider=f"provider-{i % 5000}", request_model=f"model-{i}")
             for i in range(1, 100_001)]
    metrics.costs.observe(flood)
    for i in range(20_000):
        metrics.count_unpriced(f"provider-{i}", f"model-{i}")

    text = generate_latest(metrics.registry).decode()
    assert len(text) < 4_000_000  # was 155 MB with every app a series of its own
    requests = _series(text, "llm_requests_total")
    assert len(requests) <= CostMetrics.MAX_SERIES + 1
    assert len({line.split('app="')[1].split('"')[0] for line in requests}) <= LabelValues.LIMITS["app"] + 1
    assert len(_series(text, "llmledger_llm_calls_unpriced_total")) <= CostMetrics.MAX_SERIES + 1
    # Nothing is lost by folding: every call is counted, the real app under its own name.
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in requests)
    assert counted == 100_001
    assert any('app="checkout"' in line and 'model="gpt-4o-mini"' in line for line in requests)
    assert any('app="other"' in line for line in requests)


class _SlowCollector:
    """A collector that holds the rendering until released, like a huge registry would."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()

    def collect(self):
        self.entered.set()
        self.release.wait(20)
        return []


def test_health_and_budget_checks_are_answered_during_a_scrape(tmp_path):
    metrics = ProcessorMetrics()
    slow = _SlowCollector()
    metrics.registry.register(slow)
    ops = OpsApi(store=None, log=None, drain=None, metrics=metrics, wal_max_bytes=1, admin_token="t")
    budgets = BudgetService(lambda: None)
    app = Starlette(routes=ops.routes() + budget_routes(budgets))

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            scrape = asyncio.create_task(client.get("/metrics"))
            assert await anyio.to_thread.run_sync(slow.entered.wait, 20)
            health = await client.get("/healthz")
            check = await client.get("/v1/budgets/check", params={"app": "checkout"})
            answered_while_rendering = not slow.release.is_set() and not scrape.done()
            slow.release.set()
            scraped = await scrape
            return health, check, answered_while_rendering, scraped

    health, check, answered_while_rendering, scraped = asyncio.run(scenario())
    assert health.status_code == 200 and check.status_code == 200
    assert answered_while_rendering
    assert scraped.status_code == 200 and "llmledger_spans_received_total" in scraped.text
