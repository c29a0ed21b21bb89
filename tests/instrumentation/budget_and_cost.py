"""Two checks every provider's tests share: the budget guard through the shared hook,
and what the processor makes of the spans (the price, to the digit).

    with budget_decision({"decision": "deny", "budget_id": "b1", "retry_after": 60}):
        ...  # every instrumented call is refused before it is sent

    [call] = priced(otel.spans())    # the LlmCall rows `serve` would store, priced
    assert call.cost == Decimal("0.000123")
    [hit] = priced(otel.spans(), savings=True)    # and what a cache hit or a route saved
"""
from __future__ import annotations

import contextlib
import time

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from fake_server import Exchange, FakeServer
from llmledger.instrumentation import budget
from llmledger.processor.normalize import normalize_request
from llmledger.processor.pricing.pricer import Pricer
from llmledger.processor.pricing.savings import SavingsPricer


class FakeBudgetService(FakeServer):
    """Answers `GET /v1/budgets/check` with one fixed decision, as `serve` would."""

    name = "fake-budget-service"

    def __init__(self, decision: dict) -> None:
        super().__init__()
        self.decision = decision

    def answer(self, exchange: Exchange) -> None:
        exchange.send_json(429 if self.decision["decision"] == "deny" else 200, self.decision)


@contextlib.contextmanager
def budget_decision(decision: dict):
    """The budget guard enabled against a service that always answers `decision`."""
    with FakeBudgetService(decision) as service:
        budget.enable(url=service.base_url, cache_seconds=0, fail_open=False)
        try:
            yield service
        finally:
            budget.disable()


def priced(spans, savings: bool = False) -> list:
    """The spans as `serve` reads and prices them: its `LlmCall` records, cost filled in
    (and `saved_cost`, with `savings`)."""
    result = normalize_request(encode_spans(list(spans)), now_ns=time.time_ns())
    assert result.rejected == 0, result.errors
    pricer = Pricer(warn_unpriced=False)
    saver = SavingsPricer(pricer) if savings else None
    for call in result.calls:
        pricer.price(call)
        if saver is not None:
            saver.apply(call)
    return result.calls
