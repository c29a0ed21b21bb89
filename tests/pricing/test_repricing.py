"""Audited re-pricing: a price-book correction re-prices exactly the affected rows, the
rollups follow, the log records it, and a second identical run changes nothing."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from llmledger.processor.analytics import runner_for_client
from llmledger.processor.exporters.clickhouse import ClickHouseWriter, llm_span_row
from llmledger.processor.normalize import OTEL_TRACES_COLUMNS
from llmledger.processor.pricing import PriceBook, Pricer
from llmledger.processor.pricing.repricing import reprice
from llmledger.processor.record import LlmCall

# The book as first written: acme-ft at 1.00 in / 2.00 out per 1M tokens (a typo: the
# contract says 0.50 / 1.50).
WRONG_BOOK = """
models:
  - match: acme-ft
    prices: {input: 1.00, output: 2.00}
"""
FIXED_BOOK = """
models:
  - match: acme-ft
    prices: {input: 0.50, output: 1.50}
"""
START, END = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)


def _call(n: int, model: str) -> LlmCall:
    at = datetime(2026, 3, 2, 10, n, tzinfo=UTC)
    return LlmCall(timestamp_ns=int(at.timestamp()) * 1_000_000_000, trace_id=f"{n:032x}", span_id=f"{n:016x}",
                   provider="openai", operation="chat", request_model=model, service_name="svc", app="svc",
                   input_tokens=10_000, output_tokens=2_000, usage_reported=True, usage_source="provider")


@pytest.fixture
def stored(clickhouse):
    """Three acme-ft calls and two gpt-4o-mini calls, priced with the wrong book."""
    pricer = Pricer(PriceBook.from_text(WRONG_BOOK, "book.yaml"))
    calls = [_call(n, "acme-ft") for n in range(3)] + [_call(n, "gpt-4o-mini") for n in range(3, 5)]
    for call in calls:
        pricer.price(call)
    # acme-ft, wrongly: 10,000 x 1.00 / 1M + 2,000 x 2.00 / 1M = 0.01 + 0.004 = 0.014 each
    assert {c.cost for c in calls[:3]} == {Decimal("0.014")}
    ClickHouseWriter(clickhouse, OTEL_TRACES_COLUMNS).write([], [llm_span_row(c) for c in calls], "batch-1")
    return clickhouse


def _costs(client) -> dict:
    rows = client.query("SELECT model, count(), sum(cost), max(row_version) FROM v_llm_calls GROUP BY model")
    return {model: (count, cost, version) for model, count, cost, version in rows.result_rows}


def _rollup(client) -> dict:
    """Requests and cost per model from the hourly rollup, after checking that every other
    rollup says the same."""
    rows = client.query("SELECT model, sum(requests), sum(cost) FROM v_cost_hourly GROUP BY model")
    hourly = {model: (requests, cost) for model, requests, cost in rows.result_rows}
    daily = client.query("SELECT model, sum(requests), sum(cost) FROM v_cost_daily_users GROUP BY model")
    assert {model: (requests, cost) for model, requests, cost in daily.result_rows} == hourly
    by_user = client.query("SELECT sum(requests), sum(cost) FROM v_cost_daily_by_user").result_rows
    assert by_user == [(sum(r for r, _ in hourly.values()), sum(c for _, c in hourly.values()))]
    priced = client.query("SELECT model, sum(priced_requests) FROM v_cache_savings_hourly GROUP BY model")
    assert dict(priced.result_rows) == {model: requests for model, (requests, _) in hourly.items()}
    return hourly


def test_a_price_book_fix_reprices_exactly_the_affected_rows(stored):
    run = runner_for_client(stored)
    fixed = Pricer(PriceBook.from_text(FIXED_BOOK, "book.yaml"), warn_unpriced=False)
    result = reprice(run, fixed, START, END, ran_by="alice", reason="acme contract rates")

    # acme-ft, fixed: 10,000 x 0.50 / 1M + 2,000 x 1.50 / 1M = 0.005 + 0.003 = 0.008 each, 0.024 for 3.
    # gpt-4o-mini: 10,000 x 0.15 / 1M + 2,000 x 0.60 / 1M = 0.0015 + 0.0012 = 0.0027 each.
    assert (result.rows_examined, result.rows_repriced) == (5, 3)
    assert (result.cost_before, result.cost_after) == (Decimal("0.042") + Decimal("0.0054"),
                                                       Decimal("0.024") + Decimal("0.0054"))
    assert _costs(stored) == {"acme-ft": (3, Decimal("0.024"), 2), "gpt-4o-mini": (2, Decimal("0.0054"), 1)}
    assert _rollup(stored) == {"acme-ft": (3, Decimal("0.024")), "gpt-4o-mini": (2, Decimal("0.0054"))}

    log = stored.query("SELECT ran_by, reason, rows_examined, rows_repriced, cost_before, cost_after, "
                       "price_book != '' FROM repricing_log").result_rows
    assert log == [("alice", "acme contract rates", 5, 3, Decimal("0.0474"), Decimal("0.0294"), True)]

    # The same run again finds nothing to change and writes nothing.
    rows_before = stored.query("SELECT count() FROM llm_spans").result_rows
    again = reprice(run, fixed, START, END, ran_by="alice", reason="acme contract rates")
    assert (again.rows_repriced, again.log_id) == (0, "")
    assert stored.query("SELECT count() FROM llm_spans").result_rows == rows_before
    assert stored.query("SELECT count() FROM repricing_log").result_rows == [(1,)]
    assert _rollup(stored) == {"acme-ft": (3, Decimal("0.024")), "gpt-4o-mini": (2, Decimal("0.0054"))}


def test_a_dry_run_changes_nothing(stored):
    run = runner_for_client(stored)
    fixed = Pricer(PriceBook.from_text(FIXED_BOOK, "book.yaml"), warn_unpriced=False)
    result = reprice(run, fixed, START, END, model="acme-ft", dry_run=True)
    assert (result.rows_examined, result.rows_repriced, result.cost_after) == (3, 3, Decimal("0.024"))
    assert _costs(stored)["acme-ft"] == (3, Decimal("0.042"), 1)
    assert stored.query("SELECT count() FROM repricing_log").result_rows == [(0,)]


def test_reprice_from_the_command_line_through_the_running_service(tmp_path, service):
    """`llmledger prices reprice` while `serve` holds the embedded store: through the service."""
    from llm_traffic import export_spans

    (tmp_path / "wrong.yaml").write_text(WRONG_BOOK)
    (tmp_path / "fixed.yaml").write_text(FIXED_BOOK)
    # The service prices with no book: acme-ft is unpriced when it arrives.
    export_spans(service, [("chat acme-ft", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                             "gen_ai.request.model": "acme-ft", "gen_ai.usage.input_tokens": 10_000,
                                             "gen_ai.usage.output_tokens": 2_000})])
    assert service.wait_for("SELECT count() FROM v_llm_calls WHERE unpriced = 1", 1) == 1

    def cli(*args):
        out = subprocess.run([sys.executable, "-m", "llmledger.processor.cli", "prices", "reprice",
                              "--from", "2000-01-01", "--to", "2100-01-01", "--data-dir", str(service.data_dir),
                              "--format", "json", *args], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    first = cli("--price-book", str(tmp_path / "fixed.yaml"), "--reason", "price the fine-tune", "--by", "bob")
    assert (first["rows_repriced"], first["cost_before"], first["cost_after"]) == (1, "n/a", "0.008")
    assert service.query("SELECT cost, unpriced, row_version FROM v_llm_calls") == [
        {"cost": "0.008000000000", "unpriced": 0, "row_version": 2}]
    assert service.scalar("SELECT sum(cost) FROM v_cost_hourly") == "0.008000000000"
    assert service.query("SELECT ran_by, reason FROM repricing_log") == [{"ran_by": "bob",
                                                                          "reason": "price the fine-tune"}]
    assert cli("--price-book", str(tmp_path / "fixed.yaml"), "--reason", "again")["rows_repriced"] == 0


def test_a_reprice_without_a_reason_is_refused(capsys):
    from llmledger.processor.cli.prices import main

    assert main(["reprice", "--from", "2026-03-01", "--to", "2026-03-02"]) == 1
    assert "--reason" in capsys.readouterr().err


def test_reprice_from_the_command_line_on_the_store_itself(tmp_path):
    """With no service running, the command opens the store itself."""
    from llm_traffic import export_spans
    from service_harness import start_service

    (tmp_path / "fixed.yaml").write_text(FIXED_BOOK)
    service = start_service(tmp_path / "data")
    try:
        export_spans(service, [("chat acme-ft", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                                 "gen_ai.request.model": "acme-ft", "gen_ai.usage.input_tokens": 10_000,
                                                 "gen_ai.usage.output_tokens": 2_000})])
        assert service.wait_for("SELECT count() FROM v_llm_calls", 1) == 1
    finally:
        service.stop()
    out = subprocess.run([sys.executable, "-m", "llmledger.processor.cli", "prices", "reprice", "--from", "2000-01-01",
                          "--to", "2100-01-01", "--data-dir", str(tmp_path / "data"), "--price-book",
                          str(tmp_path / "fixed.yaml"), "--reason", "fine-tune priced", "--by", "carol"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # 10,000 x 0.50 / 1M + 2,000 x 1.50 / 1M = 0.008
    assert "re-priced 1 of 1 calls; total n/a -> 0.008 USD" in out.stdout
