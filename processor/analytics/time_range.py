"""Time ranges: [start, end) in UTC, passed to SQL as query parameters, never as SQL text."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

# The SQL side declares every range bound as this type.
PARAMETER_TYPE = "DateTime64(6, 'UTC')"


def utc(moment: datetime | date) -> datetime:
    """An aware UTC datetime. A date means its midnight in UTC; a time without a zone is UTC."""
    if not isinstance(moment, datetime):
        if not isinstance(moment, date):
            raise TypeError(f"expected a datetime or a date, got {type(moment).__name__} {moment!r}")
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def checked_range(start: datetime | date, end: datetime | date) -> tuple[datetime, datetime]:
    start, end = utc(start), utc(end)
    if start >= end:
        raise ValueError(f"empty time range: start {start.isoformat()} is not before end {end.isoformat()}")
    return start, end


def range_parameters(start: datetime, end: datetime) -> dict[str, str]:
    """`start` and `end` as text that a {name:DateTime64(6, 'UTC')} parameter reads; text
    travels unchanged through the service's JSON as well. With them `days_start` and
    `days_end` ({name:Date}): the whole UTC days inside the range, for the daily rollups
    (the same day twice when there is none)."""
    start, end = utc(start), utc(end)
    first_day = (start + timedelta(days=1, microseconds=-1)).date()
    last_day = max(end.date(), first_day)
    return {"start": _as_text(start), "end": _as_text(end), "days_start": first_day.isoformat(),
            "days_end": last_day.isoformat()}


def _as_text(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%d %H:%M:%S.%f")


def is_whole_hour(moment: datetime) -> bool:
    moment = utc(moment)
    return moment.minute == 0 and moment.second == 0 and moment.microsecond == 0


def is_whole_day(moment: datetime) -> bool:
    """Midnight UTC."""
    return is_whole_hour(moment) and utc(moment).hour == 0


def parse_moment(text: str) -> datetime:
    """An ISO date (`2025-03-01`, its midnight UTC) or date and time (`2025-03-01T12:30`,
    `2025-03-01 12:30:00+02:00`); without a zone, UTC."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):  # Python 3.10's fromisoformat does not read "Z"
        cleaned = cleaned[:-1] + "+00:00"
    try:
        return utc(datetime.fromisoformat(cleaned))
    except ValueError:
        raise ValueError(f"not an ISO date or date-time: {text!r} (e.g. 2025-03-01 or 2025-03-01T12:30:00Z)") \
            from None

