"""Window math in the budget's time zone, and the status projection."""
from __future__ import annotations

from decimal import Decimal

import pytest

from budget_harness import at
from llmledger.processor.budgets import Budget, Window
from llmledger.processor.budgets.status import budget_status
from llmledger.processor.budgets.windows import alert_period_start, calendar_bounds, rolling_start


def test_a_day_starts_at_local_midnight():
    # 2026-03-01 03:00 in Kolkata is still 2026-02-28 in UTC; the day began at 18:30 UTC.
    start, end = calendar_bounds("daily", "Asia/Kolkata", at("2026-03-01 03:00", "Asia/Kolkata"))
    assert (start, end) == (at("2026-02-28 18:30"), at("2026-03-01 18:30"))


@pytest.mark.parametrize("day, hours", [("2026-03-08", 23), ("2026-11-01", 25), ("2026-06-15", 24)])
def test_days_across_a_dst_change_are_23_or_25_hours(day, hours):
    start, end = calendar_bounds("daily", "America/New_York", at(f"{day} 12:00", "America/New_York"))
    assert start == at(f"{day} 00:00", "America/New_York")
    assert end - start == hours * 3600


def test_a_week_is_an_iso_week_from_monday():
    # 2026-03-05 is a Thursday; its ISO week runs from Monday 2026-03-02.
    start, end = calendar_bounds("weekly", "Europe/Berlin", at("2026-03-05 10:00", "Europe/Berlin"))
    assert (start, end) == (at("2026-03-02 00:00", "Europe/Berlin"), at("2026-03-09 00:00", "Europe/Berlin"))


@pytest.mark.parametrize("moment, first, after", [
    ("2026-02-28 23:59", "2026-02-01 00:00", "2026-03-01 00:00"),
    ("2026-03-01 00:00", "2026-03-01 00:00", "2026-04-01 00:00"),  # 2026-02-28 23:00 UTC
    ("2026-12-31 23:00", "2026-12-01 00:00", "2027-01-01 00:00"),
    ("2028-02-29 12:00", "2028-02-01 00:00", "2028-03-01 00:00"),
])
def test_a_month_runs_from_the_first_local_midnight(moment, first, after):
    zone = "Europe/Berlin"
    assert calendar_bounds("monthly", zone, at(moment, zone)) == (at(first, zone), at(after, zone))


def test_rolling_windows_count_whole_minutes_and_alert_once_per_length():
    now = at("2026-03-01 12:00") + 30  # 12:00:30
    # A 1 h window at 12:00:30 still overlaps the minute that began at 11:00.
    assert rolling_start(3600, now) == at("2026-03-01 11:00")
    window = Window("rolling", "UTC", 86400)
    assert alert_period_start(window, now) == at("2026-03-01 00:00")  # days counted from the epoch


def _budget(window: Window, limit: str = "100") -> Budget:
    return Budget(id="b", scope="app", value="chat", window=window, limit=Decimal(limit))


def test_status_projects_linearly_over_the_elapsed_window():
    window = Window("daily", "Europe/Berlin")
    start, end = calendar_bounds("daily", "Europe/Berlin", at("2026-03-10 06:00", "Europe/Berlin"))
    status = budget_status(_budget(window), start, end, Decimal("30"), at("2026-03-10 06:00", "Europe/Berlin"))
    # 30 spent in 6 of 24 hours: 30 × 24 / 6 = 120 by midnight; 100 reached after 6 × 100 / 30 = 20 hours.
    assert status.projected_spend == Decimal("120")
    assert status.projected_breach_at == at("2026-03-10 20:00", "Europe/Berlin")
    assert (status.remaining, status.percent, status.exceeded) == (Decimal("70"), Decimal("30.00"), False)


def test_status_has_no_breach_time_when_the_pace_stays_under_the_limit_or_it_is_already_over():
    window = Window("monthly", "UTC")
    start, end = calendar_bounds("monthly", "UTC", at("2026-04-16 00:00"))
    slow = budget_status(_budget(window), start, end, Decimal("40"), at("2026-04-16 00:00"))
    # 40 in 15 of 30 days: 40 × 30 / 15 = 80 by the end of April, never 100.
    assert (slow.projected_spend, slow.projected_breach_at) == (Decimal("80"), None)
    over = budget_status(_budget(window), start, end, Decimal("100.5"), at("2026-04-16 00:00"))
    assert (over.remaining, over.exceeded, over.projected_breach_at) == (Decimal("0"), True, None)
    assert over.percent == Decimal("100.50")


def test_a_rolling_window_has_no_projection():
    status = budget_status(_budget(Window("rolling", "UTC", 86400)), 0, None, Decimal("5"), 86400)
    assert (status.projected_spend, status.projected_breach_at, status.window_end) == (None, None, None)
