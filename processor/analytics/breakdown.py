"""Cost, tokens and requests by one dimension over a time range, and the top spenders."""
from __future__ import annotations

from datetime import date, datetime

from .dimensions import filter_conditions, parse_dimension
from .records import CostRow
from .runner import Runner, fetch
from .sources import grouped_query, source_for, spend_fields
from .time_range import checked_range, range_parameters


def cost_by(run: Runner, dimension: str, start: datetime | date, end: datetime | date,
            filters: dict | None = None) -> list[CostRow]:
    """Spend per value of `dimension` (see dimensions.NAMES) in [start, end), most
    expensive first. Calls without a value for it (e.g. no team set) are grouped under ""."""
    return _breakdown(run, dimension, start, end, filters, limit=None)


def top_spenders(run: Runner, dimension: str, start: datetime | date, end: datetime | date,
                 limit: int = 10, filters: dict | None = None) -> list[CostRow]:
    """The `limit` values of `dimension` that cost the most in [start, end)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValueError(f"limit must be a positive whole number, got {limit!r}")
    return _breakdown(run, dimension, start, end, filters, limit=limit)


def _breakdown(run, dimension, start, end, filters, *, limit: int | None) -> list[CostRow]:
    start, end = checked_range(start, end)
    by = parse_dimension(dimension)
    filtered_by, conditions, parameters = filter_conditions(filters)
    key, key_parameters = by.expression("dimension_tag")
    sql = grouped_query(source_for([by, *filtered_by], start, end), keys=[(key, "key")],
                        conditions=conditions, order_by="cost DESC, requests DESC, key", limited=limit is not None)
    parameters.update(key_parameters, **range_parameters(start, end))
    if limit is not None:
        parameters["limit"] = limit
    return [CostRow(dimension=by.name, key=row["key"], **spend_fields(row)) for row in fetch(run, sql, parameters)]
