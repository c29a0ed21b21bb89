"""Spend today, this week and this month so far, against the same part of the period before."""
from __future__ import annotations

from datetime import datetime, timedelta

from .breakdown import total_spend
from .records import PeriodSpend
from .runner import Runner
from .time_range import utc
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
    found = []
    for period in PERIODS:
        start, previous_start = (_utc_midnight(moment) for moment in starts[period])
        previous_end = min(previous_start + (end - start), start)
        current = total_spend(run, start, end, filters)
        previous = total_spend(run, previous_start, previous_end, filters)
        change = (None if not previous.cost or current.cost is None
                  else (current.cost - previous.cost) / previous.cost)
        found.append(PeriodSpend(
            period=period, start=start, end=end, cost=current.cost, requests=current.requests,
            unpriced_requests=current.unpriced_requests, previous_start=previous_start, previous_end=previous_end,
            previous_cost=previous.cost, previous_requests=previous.requests, change=change))
    return found


def _next_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _utc_midnight(local_midnight: datetime) -> datetime:
    # Local midnight re-read through the zone: a day's start after a DST change is right.
    zone = local_midnight.tzinfo
    return utc(datetime(local_midnight.year, local_midnight.month, local_midnight.day, tzinfo=zone))
