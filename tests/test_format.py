"""The one formatting module (pages, reports, CLI) and the CLI's tables for people."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from llmledger.processor import format as fmt
from llmledger.processor.analytics import Spend
from llmledger.processor.cli.output import Column, table


@pytest.mark.parametrize("amount, text", [
    (Decimal("1234.564"), "$1,234.56"),
    (Decimal("1234.565"), "$1,234.57"),  # half up, as people round
    (Decimal("0.01"), "$0.01"),
    (Decimal("0.000195"), "$0.000195"),  # below a cent: three significant digits
    (Decimal("0.0012345"), "$0.00123"),
    (Decimal("0.005"), "$0.005"),
    (Decimal("0"), "$0.00"),
    (Decimal("-3.456"), "-$3.46"),
    (Decimal("12345678901234567890.5"), "$12,345,678,901,234,567,890.50"),
    (None, "n/a"),  # unpriced: never $0
])
def test_money(amount, text):
    assert fmt.money(amount) == text


def test_money_of_a_group_whose_every_call_is_unpriced_is_not_zero():
    spend = dict(requests=3, errors=0, input_tokens=1, output_tokens=1, cache_read_tokens=0, cache_write_tokens=0,
                 reasoning_tokens=0, total_tokens=2)
    assert fmt.money_of(Spend(cost=Decimal(0), unpriced_requests=3, **spend)) == "n/a"
    assert fmt.money_of(Spend(cost=Decimal("1.5"), unpriced_requests=1, **spend)) == "$1.50"


def test_rates_per_million_tokens_stay_exact():
    assert [fmt.rate(Decimal(x)) for x in ("0.15", "0.075", "2.5", "3")] == ["$0.15", "$0.075", "$2.50", "$3.00"]


def test_counts_tokens_percentages_and_changes():
    assert (fmt.count(1, "call"), fmt.count(2, "call"), fmt.count(1200, "call")) == ("1 call", "2 calls", "1,200 calls")
    assert fmt.count(2, "anomaly", "anomalies") == "2 anomalies"
    assert fmt.tokens(1234567) == "1,234,567"
    assert (fmt.percent(Decimal("0.2345")), fmt.percent(Decimal("0.5")), fmt.percent(Decimal("0.0001"))) == (
        "23.5%", "50%", "<0.1%")
    assert (fmt.change(Decimal("0.12")), fmt.change(Decimal("-0.045")), fmt.change(None, had_before=False)) == (
        "+12%", "-4.5%", "new")
    assert fmt.thresholds([Decimal("0.5"), Decimal("0.8"), Decimal("1")]) == "50%, 80%, 100%"


@pytest.mark.parametrize("nanoseconds, text", [
    (42_000, "<1 ms"), (850_000_000, "850 ms"), (1_234_000_000, "1.2 s"), (42_000_000_000, "42 s"),
    (125_000_000_000, "2 min 5 s"), (12_000_000_000_000, "3 h 20 min"), (None, "n/a"),
])
def test_durations(nanoseconds, text):
    assert fmt.duration_ns(nanoseconds) == text


def test_times_in_a_chosen_zone():
    moment = datetime(2025, 3, 27, 14, 23, 5, tzinfo=timezone.utc)
    assert fmt.moment(moment) == "2025-03-27 14:23"
    assert fmt.moment(moment, ZoneInfo("Europe/Berlin"), seconds=True) == "2025-03-27 15:23:05"
    assert fmt.moment(date(2025, 3, 27)) == "2025-03-27"


def test_tables_fit_100_columns_unless_wide():
    columns = [Column("name"), Column("cost", numeric=True), Column("notes", optional=True), Column("description")]
    rows = [["support-bot", "$1,234.56", "x" * 30, "a long description " * 6]]
    narrow = table(columns, rows).splitlines()
    assert all(len(line) <= 100 for line in narrow)
    assert "notes" not in narrow[0] and narrow[2].endswith("…")  # the optional column went, the text was cut
    assert narrow[2].split("  ")[1].strip() == "$1,234.56"  # numbers are never cut
    wide = table(columns, rows, wide=True).splitlines()
    assert "notes" in wide[0] and wide[2].rstrip().endswith("description")
