"""Spend today, this week and this month so far, against the same part of the period before."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from .breakdown import total_spend
from .dimensions import filter_conditions
from .records import PeriodSpend
from .runner import Runner, as_decimal, fetch
from .sql_files import with_filters
from .time_range import is_whole_day, is_whole_hour, utc
from .trend import zone_named

PERIODS = ("today", "week", "month")


def period_spend(run: Runner, now: datetime, tz: str = "UTC", filters: dict | None = None) -> list[PeriodSpend]:
    """Today, this ISO week and this month in `tz`, each up to the end of the current hour,
    against the same stretch of the period before: yesterday up to the same hour, last week
    up to the same weekday and hour, last month up to the same day and hour (or its end, for
    a shorter month). Whole hours, so that the hourly rollup answers."""
    zone = zone_named(tz)
    local = utc(now).astimezone(zone)
    end = _next_hour(utc(now))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - timedelta(days=day.weekday())
    month = day.replace(day=1)
    before_month = (month - timedelta(days=1)).replace(day=1)
    starts = {"today": (day, day - timedelta(days=1)), "week": (week, week - timedelta(days=7)),
              "month": (month, before_month)}
    windows = []
    for period in PERIODS:
        start, previous_start = (_utc_midnight(moment) for moment in starts[period])
        windows += [(start, end), (previous_start, min(previous_start + (end - start), start))]
    spent = _window_spend(run, windows, filters)
    found = []
    for index, period in enumerate(PERIODS):
        (start, _), (previous_start, previous_end) = windows[2 * index: 2 * index + 2]
        current, previous = spent[2 * index: 2 * index + 2]
        change = (None if not previous.cost or current.cost is None
                  else (current.cost - previous.cost) / previous.cost)
        found.append(PeriodSpend(
            period=period, start=start, end=end, cost=current.cost, requests=current.requests,
            unpriced_requests=current.unpriced_requests, previous_start=previous_start, previous_end=previous_end,
            previous_cost=previous.cost, previous_requests=previous.requests, change=change))
    return found


def _window_spend(run: Runner, windows: list[tuple[datetime, datetime]], filters: dict | None) -> list:
    """total_spend of each window: in one query of the rollups when every window begins at a
    UTC midnight and ends on a whole hour (the periods in UTC), else one query each."""
    filtered_by, conditions, parameters = filter_conditions(filters)
    if not (all(is_whole_day(start) and is_whole_hour(end) for start, end in windows)
            and all(d.in_hourly_rollup for d in filtered_by)):
        return [total_spend(run, start, end, filters) for start, end in windows]
    text = "%Y-%m-%d %H:%M:%S"
    parameters.update(starts=[start.strftime(text) for start, _ in windows],
                      ends=[end.strftime(text) for _, end in windows],
                      last_days=[end.replace(hour=0).strftime(text) for _, end in windows])
    row = fetch(run, with_filters("window_spend", conditions), parameters)[0]
    found = []
    for requests, unpriced, priced, cost in zip(row["requests"], row["unpriced_requests"], row["priced_requests"],
                                                row["cost"]):
        # As spend_fields reads a total: unknown when only unpriced calls were made.
        cost = as_decimal(cost) if int(priced) > 0 else (Decimal(0) if int(unpriced) == 0 else None)
        found.append(_Spent(cost=cost, requests=int(requests), unpriced_requests=int(unpriced)))
    return found


@dataclass(frozen=True)
class _Spent:
    cost: Decimal | None
    requests: int
    unpriced_requests: int


def _next_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _utc_midnight(local_midnight: datetime) -> datetime:
    # Local midnight re-read through the zone: a day's start after a DST change is right.
    zone = local_midnight.tzinfo
    return utc(datetime(local_midnight.year, local_midnight.month, local_midnight.day, tzinfo=zone))
