"""Spend over time: per hour, day, week or month, optionally split by a dimension."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .dimensions import filter_conditions, parse_dimension
from .records import OTHER, StackedTrend, TrendPoint, TrendSeries
from .runner import Runner, as_day, as_moment, fetch
from .sources import BY_COST, grouped_query, source_for, spend_fields
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
    return _points(run, granularity, start, end, dimension, filters, tz)


def _points(run, granularity, start, end, dimension, filters, tz, keep: list[str] | None = None) -> list[TrendPoint]:
    """cost_trend's points; with `keep`, the dimension's other values are added up as OTHER."""
    if granularity not in BUCKETS:
        raise ValueError(f"unknown granularity {granularity!r}: use one of {', '.join(GRANULARITIES)}")
    zone = zone_named(tz)
    start, end = checked_range(start, end)
    by = parse_dimension(dimension) if dimension is not None else None
    filtered_by, conditions, parameters = filter_conditions(filters)
    calendar_zone = zone if granularity != "hour" else None
    source = source_for([d for d in (by, *filtered_by) if d is not None], start, end, calendar_zone,
                        hourly_buckets=granularity == "hour")

    keys = [(BUCKETS[granularity].format(t=source.bucket_column), "bucket")]
    order_by = "bucket"
    if by is not None:
        key, key_parameters = by.expression("dimension_tag")
        if keep is not None:
            key = f"if({key} IN {{keep:Array(String)}}, {key}, {{other:String}})"
            key_parameters.update(keep=keep, other=OTHER)
        keys.append((key, "key"))
        parameters.update(key_parameters)
        order_by = f"bucket, {BY_COST}, key"
    if granularity != "hour":
        parameters["tz"] = tz
    parameters.update(range_parameters(start, end), **source.parameters)
    sql = grouped_query(source, keys=keys, conditions=conditions, order_by=order_by)

    def bucket(value):
        return as_moment(value).astimezone(zone) if granularity == "hour" else as_day(value)

    return [TrendPoint(bucket=bucket(row["bucket"]), key=row["key"] if by is not None else None,
                       **spend_fields(row))
            for row in fetch(run, sql, parameters)]


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a ValueError that says what to give."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as UTC or Europe/Berlin") from None


def stacked_trend(run: Runner, granularity: str, start: datetime | date, end: datetime | date,
                  dimension: str | None = None, filters: dict | None = None, tz: str = "UTC",
                  top: int = 5, breakdown: list | None = None) -> StackedTrend:
    """Spend per bucket split into the `top` values of `dimension` over the whole range and
    one "(other)" series for the rest, every series with a value for every bucket of the
    range (0 where nothing was spent), ready to stack in a chart. Without a dimension,
    one series "total". `breakdown`: the range's rows by `dimension`, most expensive first
    (cost_by or top_spenders, at least `top` of them when there are), when the caller has them."""
    if isinstance(top, bool) or not isinstance(top, int) or top <= 0:
        raise ValueError(f"top must be a positive whole number, got {top!r}")
    keep = None
    if breakdown is not None:
        keep = [row.key for row in breakdown[:top]]
    elif dimension is not None:  # the top values over the whole range; the rest is added up in SQL
        from .breakdown import top_spenders

        keep = [row.key for row in top_spenders(run, dimension, start, end, limit=top, filters=filters)]
    points = _points(run, granularity, start, end, dimension, filters, tz, keep)
    start, end = checked_range(start, end)
    buckets = _all_buckets(granularity, start, end, zone_named(tz))
    index = {bucket: i for i, bucket in enumerate(buckets)}
    by_key: dict[str, list[Decimal]] = {}
    key_cost: dict[str, Decimal] = {}
    totals = [Decimal(0)] * len(buckets)
    requests = [0] * len(buckets)
    for point in points:
        i = index[point.bucket]
        key = point.key if dimension is not None else "total"
        cost = point.cost or Decimal(0)  # a chart stacks priced spend; unpriced calls add none
        by_key.setdefault(key, [Decimal(0)] * len(buckets))[i] += cost
        key_cost[key] = key_cost.get(key, Decimal(0)) + cost
        totals[i] += cost
        requests[i] += point.requests
    ranked = [key for key in (keep if keep is not None else by_key) if key in by_key]
    series = [TrendSeries(key=key, costs=tuple(by_key[key])) for key in ranked]
    if OTHER in by_key and OTHER not in ranked:
        series.append(TrendSeries(key=OTHER, costs=tuple(by_key[OTHER])))
    return StackedTrend(granularity=granularity, dimension=dimension, buckets=tuple(buckets), series=tuple(series),
                        totals=tuple(totals), requests=tuple(requests))


def _all_buckets(granularity: str, start: datetime, end: datetime, zone: ZoneInfo) -> list:
    """Every bucket that [start, end) touches, as cost_trend names them."""
    if granularity == "hour":
        moment = start.replace(minute=0, second=0, microsecond=0)
        found = []
        while moment < end:
            found.append(moment.astimezone(zone))
            moment += timedelta(hours=1)
        return found
    day, last = start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()
    if granularity == "week":
        day -= timedelta(days=day.weekday())
    elif granularity == "month":
        day = day.replace(day=1)
    found = []
    while day <= last:
        found.append(day)
        if granularity == "day":
            day += timedelta(days=1)
        elif granularity == "week":
            day += timedelta(days=7)
        else:
            day = (day + timedelta(days=32)).replace(day=1)
    return found
