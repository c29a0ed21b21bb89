"""Helpers for the budget tests: priced calls, a clock to move, local receivers and servers.

Every server here listens on 127.0.0.1 only.
"""
from __future__ import annotations

import itertools
import threading
import time
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import uvicorn

from llmledger.processor.exporters.clickhouse import ClickHouseWriter, llm_span_row
from llmledger.processor.record import LlmCall
from local_servers import (SMTP_PASSWORD, SMTP_PASSWORD_ENV, SMTP_USER, WebhookReceiver,  # noqa: F401 (shared)
                           free_port)

_ids = itertools.count(1)

# One gpt-4o call at the published $2.50 in / $10 out per 1M tokens:
# 400,000 × 2.50 / 1M = 1.00, plus 50,000 × 10 / 1M = 0.50  ->  $1.50
GPT4O_CALL_COST = Decimal("1.50")


def at(text: str, zone: str = "UTC") -> float:
    """Epoch seconds of a wall-clock time in a zone, e.g. at("2026-02-28 23:30", "Europe/Berlin")."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(zone)).timestamp()


def llm_call(when: float, *, app: str = "chatbot", user: str = "u-1", team: str = "", tenant: str = "", tags=None,
             model: str = "gpt-4o", input_tokens: int = 400_000, output_tokens: int = 50_000,
             cost: Decimal | None = GPT4O_CALL_COST) -> LlmCall:
    """A priced call as the pricer leaves it; by default the gpt-4o call of GPT4O_CALL_COST."""
    n = next(_ids)
    return LlmCall(
        timestamp_ns=int(when * 1e9), trace_id=f"{n:032x}", span_id=f"{n:016x}", provider="openai",
        operation="chat", request_model=model, response_model=model, app=app, user_id=user, team=team,
        tenant=tenant, tags=dict(tags or {}), input_tokens=input_tokens, output_tokens=output_tokens, usage_reported=True,
        cost=cost, unpriced=cost is None, price_source="catalog" if cost is not None else "", status="Ok")


def store_calls(client, calls: list[LlmCall]) -> None:
    """Write calls as the processor's drain does (llm_spans and, through the views, the rollups)."""
    ClickHouseWriter(client, ()).write([], [llm_span_row(c) for c in calls], token=f"test-{next(_ids)}")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


class ThreadedUvicorn:
    """A real uvicorn server for an ASGI app, on a free loopback port, in a thread."""

    def __init__(self, app):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="off", access_log=False))
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self):
        self.server.should_exit = True
        self._thread.join(timeout=30)
