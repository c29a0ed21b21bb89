"""Spend over time: per hour, day, week or month, optionally split by a dimension."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .dimensions import filter_conditions, parse_dimension
from .records import TrendPoint
from .runner import Runner, as_day, as_moment, fetch
from .sources import grouped_query, source_for, spend_fields
from .time_range import checked_range, range_parameters

# Granularity -> the bucket of a time column `{t}`. Hours are instants (handed out in
# UTC); days, weeks (starting Monday) and months are calendar dates in the trend's zone.
BUCKETS = {
    "hour": "toTimeZone(toStartOfHour({t}), 'UTC')",
    "day": "toDate({t}, {{tz:String}})",
    "week": "toMonday({t}, {{tz:String}})",
    "month": "toStartOfMonth({t}, {{tz:String}})",
}
GRANULARITIES = tuple(BUCKETS)


def cost_trend(run: Runner, granularity: str, start: datetime | date, end: datetime | date,
               dimension: str | None = None, filters: dict | None = None,
               tz: str = "UTC") -> list[TrendPoint]:
    """Spend per time bucket in [start, end), oldest first; with `dimension`, one point
    per bucket and value, most expensive first within a bucket. Buckets without calls are
    absent, and the first and last buckets hold only the part inside the range."""
    if granularity not in BUCKETS:
        raise ValueError(f"unknown granularity {granularity!r}: use one of {', '.join(GRANULARITIES)}")
    zone = _zone(tz)
    start, end = checked_range(start, end)
    by = parse_dimension(dimension) if dimension is not None else None
    filtered_by, conditions, parameters = filter_conditions(filters)
    calendar_zone = zone if granularity != "hour" else None
    source = source_for([d for d in (by, *filtered_by) if d is not None], start, end, calendar_zone)

    keys = [(BUCKETS[granularity].format(t=source.time_column), "bucket")]
    order_by = "bucket"
    if by is not None:
        key, key_parameters = by.expression("dimension_tag")
        keys.append((key, "key"))
        parameters.update(key_parameters)
        order_by = "bucket, cost DESC, requests DESC, key"
    if granularity != "hour":
        parameters["tz"] = tz
    parameters.update(range_parameters(start, end))
    sql = grouped_query(source, keys=keys, conditions=conditions, order_by=order_by)

    def bucket(value):
        return as_moment(value).astimezone(zone) if granularity == "hour" else as_day(value)

    return [TrendPoint(bucket=bucket(row["bucket"]), key=row["key"] if by is not None else None,
                       **spend_fields(row))
            for row in fetch(run, sql, parameters)]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as UTC or Europe/Berlin") from None
