"""The stretch of time a report covers, and the one it is compared with.

A period is a calendar day, ISO week (Monday to Sunday) or month in the report's time zone,
or any run of whole days. It is compared with the period just before: the day, week or
month before, or as many days before a custom range.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ..analytics.trend import zone_named

KINDS = ("day", "week", "month")
MOST_DAYS = 400  # a longer custom range is surely a mistake


@dataclass(frozen=True)
class ReportPeriod:
    kind: str  # "day", "week", "month" or "custom"
    tz: str
    first_day: date  # local calendar days, both included
    last_day: date
    previous_first_day: date
    previous_last_day: date

    @property
    def zone(self) -> ZoneInfo:
        return zone_named(self.tz)

    @property
    def start(self) -> datetime:
        """[start, end) in UTC: the local midnights around the period."""
        return local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last_day + timedelta(days=1), self.zone)

    @property
    def previous_start(self) -> datetime:
        return local_midnight(self.previous_first_day, self.zone)

    @property
    def previous_end(self) -> datetime:
        return local_midnight(self.previous_last_day + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def label(self) -> str:
        """How people name it: 2025-03-12, week 11 of 2025 (Mar 10–16), March 2025, 2025-03-01 – 2025-03-15."""
        if self.kind == "day":
            return self.first_day.isoformat()
        if self.kind == "week":
            year, week, _ = self.first_day.isocalendar()
            return f"week {week} of {year} ({_short(self.first_day)} – {_short(self.last_day)})"
        if self.kind == "month":
            return self.first_day.strftime("%B %Y")
        return f"{self.first_day.isoformat()} – {self.last_day.isoformat()}"

    @property
    def previous_label(self) -> str:
        return {"day": "the day before", "week": "the week before", "month": "the month before"}.get(
            self.kind, f"the {self.days} days before")


def period_of(kind: str, day: date, tz: str = "UTC") -> ReportPeriod:
    """The day, week or month (in `tz`) that holds `day`."""
    zone_named(tz)
    if kind == "day":
        first = last = day
        previous_first = previous_last = day - timedelta(days=1)
    elif kind == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=6)
        previous_first, previous_last = first - timedelta(days=7), first - timedelta(days=1)
    elif kind == "month":
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        previous_last = first - timedelta(days=1)
        previous_first = previous_last.replace(day=1)
    else:
        raise ValueError(f"unknown period {kind!r}: use one of {', '.join(KINDS)}")
    return ReportPeriod(kind, tz, first, last, previous_first, previous_last)


def last_complete(kind: str, now: datetime, tz: str = "UTC") -> ReportPeriod:
    """The latest day, week or month in `tz` that has ended by `now`."""
    today = now.astimezone(zone_named(tz)).date()
    current = period_of(kind, today, tz)
    return period_of(kind, current.first_day - timedelta(days=1), tz)


def custom_period(first_day: date, end_day: date, tz: str = "UTC") -> ReportPeriod:
    """The days [first_day, end_day), compared with as many days before."""
    zone_named(tz)
    days = (end_day - first_day).days
    if days <= 0:
        raise ValueError(f"empty report period: {first_day.isoformat()} is not before {end_day.isoformat()}")
    if days > MOST_DAYS:
        raise ValueError(f"a report covers at most {MOST_DAYS} days, not {days}")
    last = end_day - timedelta(days=1)
    return ReportPeriod("custom", tz, first_day, last, first_day - timedelta(days=days),
                        first_day - timedelta(days=1))


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # Midnight re-read through the zone: right after a DST change too.
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(timezone.utc)


def _short(day: date) -> str:
    return f"{day.strftime('%b')} {day.day}"
