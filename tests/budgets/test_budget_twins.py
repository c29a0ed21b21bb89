"""A call reported twice (a framework's span, then the provider SDK's better one) counts once
in the budgets' running totals too, before any reconcile: the replaced span's cost is taken
back when the better span is accepted."""
from __future__ import annotations

import time
from decimal import Decimal

import anyio
from budget_harness import Clock
from normalize.normalize_spans import SpanRecorder

from llmledger.processor.budgets import BudgetService, parse_budget_document
from llmledger.processor.pipeline import Pipeline
from llmledger.processor.pricing import Pricer
from llmledger.processor.telemetry import ProcessorMetrics
from llmledger.processor.wal import MemoryLog

# LangChain's span of a gpt-4o-mini call (OpenInference): tokens, no cache breakdown.
FRAMEWORK = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
             "llm.token_count.prompt": 1200, "llm.token_count.completion": 300}
# The openai SDK's span of the same call, in a trace of its own, with the cached tokens.
SDK = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
       "gen_ai.response.id": "chatcmpl-1", "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 300,
       "gen_ai.usage.cache_read.input_tokens": 1024}


def _request(attributes: dict, scope: str):
    recorder = SpanRecorder(scope=scope)
    recorder.span("chat gpt-4o-mini", attributes)
    return recorder.request()


def test_a_replaced_span_is_taken_out_of_the_running_totals(clickhouse):
    budgets = BudgetService(lambda: clickhouse, clock=Clock(time.time()), settle_seconds=60)
    budgets.set_budgets(parse_budget_document({"budgets": [
        {"id": "everything", "scope": "all", "window": "daily", "limit": 100}]}).budgets)
    pipeline = Pipeline(pricer=Pricer(warn_unpriced=False), log=MemoryLog(max_bytes=1 << 30),
                        metrics=ProcessorMetrics(), observers=[budgets.observe], retractors=[budgets.retract])

    async def send() -> None:
        await pipeline.submit(_request(FRAMEWORK, "openinference.instrumentation.langchain"))
        # gpt-4o-mini: 1200 x 0.15 + 300 x 0.60 = 360 per 1M
        assert [s.spend for s in budgets.status()] == [Decimal("0.00036")]
        await pipeline.submit(_request(SDK, "opentelemetry.instrumentation.openai_v2"))

    anyio.run(send)
    assert len(pipeline.twins) == 1  # one call, its better span kept
    # Only the SDK's span counts: 176 x 0.15 + 1024 x 0.075 + 300 x 0.60 = 26.4 + 76.8 + 180 = 283.2 per 1M
    assert [s.spend for s in budgets.status()] == [Decimal("0.0002832")]
