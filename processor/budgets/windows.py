"""Window math, in whole epoch seconds.

Calendar windows start at local midnight in the budget's time zone (zoneinfo, so a day
across a DST change is 23 or 25 hours long); weeks are ISO weeks, from Monday. A rolling
window is counted in whole minutes: the minutes that overlap the last `rolling_seconds`.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .model import Window

MINUTE = 60


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; raises ValueError for one that does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from exc


def minute_of(seconds: float) -> int:
    return int(seconds // MINUTE) * MINUTE


def calendar_bounds(kind: str, timezone: str, at: float) -> tuple[int, int]:
    """[start, end) of the daily, weekly or monthly window that contains `at`."""
    tz = zone(timezone)
    day = datetime.fromtimestamp(at, tz).date()
    if kind == "daily":
        first, after = day, day + timedelta(days=1)
    elif kind == "weekly":
        first = day - timedelta(days=day.weekday())
        after = first + timedelta(days=7)
    elif kind == "monthly":
        first = day.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"{kind!r} is not a calendar window")
    return _local_midnight(first, tz), _local_midnight(after, tz)


def _local_midnight(day: date, tz: ZoneInfo) -> int:
    # Where midnight is skipped by a DST change, zoneinfo puts it at the change itself.
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def rolling_start(rolling_seconds: int, at: float) -> int:
    """The first minute bucket still inside a rolling window at `at`."""
    return minute_of(at - rolling_seconds)


def window_start(window: Window, at: float) -> int:
    if window.is_rolling:
        return rolling_start(window.rolling_seconds, at)
    return calendar_bounds(window.kind, window.timezone, at)[0]


def alert_period_start(window: Window, at: float) -> int:
    """The period in which each threshold alerts once: the calendar window, or for a rolling
    window the stretch of `rolling_seconds` (counted from the epoch) that contains `at`."""
    if window.is_rolling:
        return int(at // window.rolling_seconds) * window.rolling_seconds
    return calendar_bounds(window.kind, window.timezone, at)[0]


def whole_seconds_until(moment: float, now: float) -> int:
    """For Retry-After: at least 1 second, rounded up."""
    return max(1, math.ceil(moment - now))
