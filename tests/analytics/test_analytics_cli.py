"""`llmledger costs …` and `llmledger anomalies` through their own argument parsers, on a
runner over the synthetic month."""
from __future__ import annotations

import argparse
import csv
import io
import json
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from analytics_expected import grouped, ranked, within
from analytics_month import MONTH_END, WINDOW_START

from llmledger.processor.analytics import runner_for_client
from llmledger.processor.cli import anomalies, costs
from llmledger.processor.format import money

RANGE = ["--from", "2025-03-01", "--to", "2025-04-01"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmledger")
    subparsers = parser.add_subparsers()
    costs.register(subparsers)
    anomalies.register(subparsers)
    return parser


def _run(capsys, runner, *argv) -> tuple[int, str, str]:
    args = _parser().parse_args(argv)
    status = args.func(args, runner=runner)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _table(text: str, footer: bool = True) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a printed table: cells are two or more spaces apart; it fits 100
    columns, and a line under it sums it up."""
    lines = text.strip().splitlines()
    assert set(lines[1]) <= {"-", " "} and all(len(line) <= 100 for line in lines)
    body = lines[2:-1] if footer else lines[2:]
    return re.split(r"\s{2,}", lines[0].strip()), [re.split(r"\s{2,}", line.strip()) for line in body]


def test_costs_by_app_as_a_table(capsys, month, month_calls):
    status, out, _ = _run(capsys, month, "costs", "by", "app", *RANGE)
    header, rows = _table(out)
    assert status == 0 and header[:4] == ["app", "cost", "calls", "unpriced"]
    expected = grouped(month_calls, lambda c: c.app)
    # Money for people: cents, thousands separators; an app whose every call is unpriced has
    # no cost, printed as n/a (never as $0.00).
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (app, "n/a" if expected[app]["cost"] is None else money(expected[app]["cost"]),
         f"{expected[app]['requests']:,}")
        for app in ranked(expected)]
    total = sum(g["requests"] for g in expected.values())
    assert out.strip().splitlines()[-1].startswith(f"{len(expected)} apps, {total:,} calls, $")


def test_a_wide_table_shows_every_column(capsys, month):
    _, narrow, _ = _run(capsys, month, "costs", "by", "model", *RANGE)
    _, wide, _ = _run(capsys, month, "costs", "by", "model", *RANGE, "--wide")
    assert "reasoning" not in narrow.splitlines()[0] and "reasoning" in wide.splitlines()[0]
    assert max(len(line) for line in wide.splitlines()) > 100


def test_costs_by_model_with_filters_as_json(capsys, month, month_calls):
    status, out, _ = _run(capsys, month, "costs", "by", "model", *RANGE, "--app", "code-review",
                          "--tag", "tier=gold", "--format", "json")
    kept = [c for c in month_calls if c.app == "code-review" and c.tags.get("tier") == "gold"]
    expected = grouped(kept, lambda c: c.model)
    assert status == 0
    assert [(r["model"], Decimal(r["cost"]), r["requests"], r["unpriced_requests"]) for r in json.loads(out)] == [
        (m, expected[m]["cost"], expected[m]["requests"], 0) for m in ranked(expected)]


def test_costs_top_users_as_csv(capsys, month, month_calls):
    status, out, _ = _run(capsys, month, "costs", "top", "user", "-n", "3", *RANGE, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    expected = grouped(month_calls, lambda c: c.user_id)
    assert status == 0
    assert [(r["user"], Decimal(r["cost"])) for r in rows] == [(u, expected[u]["cost"]) for u in ranked(expected)[:3]]


def test_costs_trend_by_week_in_a_time_zone(capsys, month, month_calls):
    status, out, _ = _run(capsys, month, "costs", "trend", "--granularity", "week", "--tz", "Europe/Berlin",
                          *RANGE, "--format", "json")
    points = json.loads(out)
    assert status == 0
    # Weeks start on Monday: 24 Feb (1 March was a Saturday) up to 31 March.
    assert [p["bucket"] for p in points] == ["2025-02-24", "2025-03-03", "2025-03-10", "2025-03-17", "2025-03-24",
                                             "2025-03-31"]
    assert sum(Decimal(p["cost"]) for p in points) == sum(c.cost for c in month_calls if c.cost is not None)


def test_costs_trend_by_hour_split_by_app(capsys, month, month_calls):
    status, out, _ = _run(capsys, month, "costs", "trend", "--granularity", "hour", "--by", "app",
                          "--from", "2025-03-12T10:00:00Z", "--to", "2025-03-12T12:00:00Z")
    header, rows = _table(out)
    expected = grouped(within(month_calls, datetime.fromisoformat("2025-03-12T10:00:00+00:00"),
                              datetime.fromisoformat("2025-03-12T12:00:00+00:00")),
                       lambda c: (c.timestamp_ns // (3600 * 10**9), c.app))
    assert status == 0 and header[:4] == ["hour", "app", "cost", "calls"]
    assert len(rows) == len(expected)
    assert {r[0] for r in rows} == {"2025-03-12 10:00", "2025-03-12 11:00"}


def test_costs_summary_table_and_json(capsys, month, month_calls):
    support = [c for c in month_calls if c.app == "support-bot"]
    status, out, _ = _run(capsys, month, "costs", "summary", *RANGE, "--app", "support-bot")
    header, rows = _table(out, footer=False)
    figures = {name: value for name, value in rows}
    assert status == 0 and header == ["figure", "value"]
    assert figures["cost"] == money(sum(c.cost for c in support))
    assert figures["calls"].startswith(f"{len(support):,} (0 unpriced, ")
    assert figures["cache savings"].startswith("$") and figures["per 1k tokens"].startswith("$")

    status, out, _ = _run(capsys, month, "costs", "summary", *RANGE, "--format", "json")
    result = json.loads(out)
    assert result["requests"] == len(month_calls)
    assert result["unpriced_requests"] == sum(1 for c in month_calls if c.unpriced)


def test_the_range_defaults_to_the_last_30_days(capsys, month):
    status, out, _ = _run(capsys, month, "costs", "summary", "--format", "json")
    result = json.loads(out)
    start, end = datetime.fromisoformat(result["start"]), datetime.fromisoformat(result["end"])
    assert status == 0 and end - start == timedelta(days=30)


def test_costs_trace(capsys, month, month_calls):
    call = next(c for c in month_calls if c.app == "code-review")
    status, out, _ = _run(capsys, month, "costs", "trace", call.trace_id)
    assert status == 0
    header = re.match(r"trace (\w+): (\S+), 1 LLM call \(0 unpriced\)", out)
    assert header and (header[1], header[2]) == (call.trace_id, money(call.cost))
    assert call.span_id in out

    status, out, _ = _run(capsys, month, "costs", "trace", call.trace_id, "--format", "json")
    trace = json.loads(out)
    assert (Decimal(trace["cost"]), trace["llm_calls"], trace["calls"][0]["span_id"]) == (call.cost, 1, call.span_id)


def test_anomalies_command(capsys, anomalous_client):
    runner = runner_for_client(anomalous_client)
    window = ["--from", WINDOW_START.isoformat(), "--to", MONTH_END.isoformat()]
    status, out, _ = _run(capsys, runner, "anomalies", *window, "--format", "json")
    found = json.loads(out)
    assert status == 0
    assert {a["kind"] for a in found} == {"request_outlier", "new_app", "new_model"}
    outlier = next(a for a in found if a["kind"] == "request_outlier")
    assert (Decimal(outlier["observed"]), outlier["model"]) == (Decimal("0.66"), "claude-sonnet-4")

    status, out, _ = _run(capsys, runner, "anomalies", *window, "--kind", "new_model")
    lines = out.strip().splitlines()
    assert status == 0 and lines[0].split()[:2] == ["kind", "at"]
    assert lines[2].startswith("new_model") and "gpt-4.1" in lines[2]
    assert "first seen" in lines[3] and lines[-1] == "1 anomaly"  # its description under it


@pytest.mark.parametrize("argv, message", [
    (["costs", "by", "colour", *RANGE], "unknown dimension 'colour'"),
    (["costs", "trend", "--tz", "Nowhere/Special", *RANGE], "unknown time zone"),
    (["costs", "summary", "--from", "2025-04-01", "--to", "2025-03-01"], "empty time range"),
    (["costs", "trace", "12345"], "not a trace id"),
    (["costs", "trace", "f" * 32], "no spans stored for trace"),
])
def test_errors_are_reported_with_exit_status_1(capsys, month, argv, message):
    status, out, err = _run(capsys, month, *argv)
    assert status == 1 and out == "" and message in err


@pytest.mark.parametrize("argv, message", [
    (["costs", "summary", "--from", "last tuesday"], "not an ISO date"),
    (["costs", "by", "app", "--tag", "gold"], "expected NAME=VALUE"),
])
def test_malformed_options_are_refused_by_the_parser(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err

