"""Where a breakdown reads from, and the one grouped query every breakdown runs.

The cost rollups answer when every dimension asked for is in them and the range starts and
ends on whole hours (UTC hours: the store should run in UTC or a whole-hour zone): the
daily rollup (llm_cost_daily) for the whole UTC days inside the range and the hourly one
(llm_cost_hourly) for the hours around them, or the hourly one alone for hourly buckets and
for calendar buckets in a zone whose days are not UTC days. Over whole UTC days, breakdowns
by user read llm_user_cost_daily (or llm_cost_daily_users when other dimensions are asked
for too), and breakdowns by one tag read llm_tag_cost_daily. Otherwise (partial days, two
tags) the per-call view v_llm_calls answers. All give the same measure columns, so callers
do not care which one answered.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from datetime import datetime, timedelta, tzinfo
from typing import Iterable

from .dimensions import IN_DAILY_USER_ROLLUP, IN_HOURLY_ROLLUP, Dimension
from .runner import as_decimal
from .sql_files import load_sql
from .time_range import PARAMETER_TYPE, is_whole_day, is_whole_hour

MEASURES = ("cost", "requests", "unpriced_requests", "errors", "input_tokens", "output_tokens",
            "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "total_tokens")


# Most expensive first, as spend_fields reads the cost: a group whose calls needed no price
# as $0, a group of unpriced calls (NULL) last.
BY_COST = "if(unpriced_requests > 0, cost, ifNull(cost, toDecimal128(0, 12))) DESC, requests DESC"


@dataclass(frozen=True)
class Source:
    view: str  # a view or a rollup table
    time_column: str  # what the range filters on
    measures: str  # aggregate expressions, one per MEASURES name, aliased to it
    bucket_time: str = ""  # the time as a DateTime for trend buckets, when not time_column itself
    parameters: dict = field(default_factory=dict, compare=False)  # what `view` needs beyond the range's

    @property
    def bucket_column(self) -> str:
        return self.bucket_time or self.time_column


def _rollup_measures(table: str) -> str:
    """sum() of each measure straight off a SummingMergeTree rollup (not its view, which groups
    by every key first and costs ten times as much). Column names are qualified where the
    measures' aliases would shadow them."""
    sums = [f"sum({table}.{name}) AS {name}" for name in MEASURES if name not in ("cost", "total_tokens")]
    sums.append(f"sum({table}.input_tokens) + sum({table}.output_tokens) AS total_tokens")
    # Corrections are rows weighted by sign, so the sums are the current calls'; a group
    # with no priced call costs NULL (unknown), as in the views.
    sums.insert(0, f"if(sum({table}.priced_requests) > 0, sum({table}.cost), NULL) AS cost")
    return ", ".join(sums)


HOURLY_ROLLUP = Source(view="llm_cost_hourly", time_column="hour", measures=_rollup_measures("llm_cost_hourly"))

DAILY_ROLLUP = Source(view="llm_cost_daily", time_column="day", bucket_time="toDateTime(day, 'UTC')",
                      measures=_rollup_measures("llm_cost_daily"))

HOURS_AND_DAYS = Source(view=load_sql("rollup_hours_and_days"), time_column="hour",
                        measures=_rollup_measures("rollup"))

DAILY_USERS = Source(view="llm_cost_daily_users", time_column="day", bucket_time="toDateTime(day, 'UTC')",
                     measures=_rollup_measures("llm_cost_daily_users"))

USER_DAYS = Source(view="llm_user_cost_daily", time_column="day", bucket_time="toDateTime(day, 'UTC')",
                   measures=_rollup_measures("llm_user_cost_daily"))


def tag_days(tag: str) -> Source:
    """The daily rollup by the tag `tag` (bound as a query parameter)."""
    return Source(view=load_sql("rollup_tag_days"), time_column="day_start", measures=_rollup_measures("rollup"),
                  parameters={"rollup_tag": tag})


CALLS = Source(
    view="v_llm_calls",
    time_column="timestamp",
    measures="""sum(cost) AS cost,
        count() AS requests,
        countIf(unpriced = 1) AS unpriced_requests,
        countIf(status = 'Error') AS errors,
        sum(input_tokens) AS input_tokens,
        sum(output_tokens) AS output_tokens,
        sum(cache_read_tokens) AS cache_read_tokens,
        sum(cache_write_tokens) AS cache_write_tokens,
        sum(reasoning_tokens) AS reasoning_tokens,
        sum(total_tokens) AS total_tokens""",
)


def source_for(dimensions: Iterable[Dimension], start: datetime, end: datetime,
               zone: tzinfo | None = None, *, hourly_buckets: bool = False) -> Source:
    """A rollup when one can answer exactly (see the module's doc); `zone` is that of the
    calendar buckets asked for, None without such buckets. Else the calls."""
    dimensions = list(dimensions)
    names = {d.name for d in dimensions}
    utc_days = not hourly_buckets and (zone is None or _utc_days(zone, start, end))
    if (names <= IN_HOURLY_ROLLUP and is_whole_hour(start) and is_whole_hour(end)
            and (zone is None or _whole_hour_offsets(zone, start, end))):
        if not utc_days:
            return HOURLY_ROLLUP
        return DAILY_ROLLUP if is_whole_day(start) and is_whole_day(end) else HOURS_AND_DAYS
    if not (utc_days and is_whole_day(start) and is_whole_day(end)):
        return CALLS
    if names <= {"user"}:
        return USER_DAYS
    if names <= IN_DAILY_USER_ROLLUP:
        return DAILY_USERS
    tags = {d.tag for d in dimensions if d.tag is not None}
    if len(tags) == 1 and {d.name for d in dimensions if d.tag is None} <= IN_HOURLY_ROLLUP:
        return tag_days(tags.pop())
    return CALLS


def _utc_days(zone: tzinfo, start: datetime, end: datetime) -> bool:
    """Whether the zone's days are UTC days throughout [start, end)."""
    moment = start
    while moment < end:
        if moment.astimezone(zone).utcoffset() != timedelta(0):
            return False
        moment += timedelta(days=1)
    return end.astimezone(zone).utcoffset() == timedelta(0)


def _whole_hour_offsets(zone: tzinfo, start: datetime, end: datetime) -> bool:
    # India (+05:30) or Nepal (+05:45) start their days in the middle of a UTC hour.
    return all(moment.astimezone(zone).utcoffset() % timedelta(hours=1) == timedelta(0) for moment in (start, end))


def grouped_query(source: Source, *, keys: list[tuple[str, str]], conditions: list[str], order_by: str = "",
                  extra_measures: str = "", limited: bool = False, array_join: str = "", limit_by: str = "") -> str:
    """SELECT the keys and the measures over [{start}, {end}), grouped by the keys.
    `keys` are (SQL expression, alias) pairs built from whitelisted parts only; `array_join`
    an ARRAY JOIN clause for them; with `limit_by`, at most {limit} rows per value of it."""
    time = source.time_column
    where = [f"{time} >= {{start:{PARAMETER_TYPE}}}", f"{time} < {{end:{PARAMETER_TYPE}}}", *conditions]
    select = [f"{expression} AS {alias}" for expression, alias in keys] + [source.measures]
    if extra_measures:
        select.append(extra_measures)
    sql = f"SELECT {', '.join(select)}\nFROM {source.view}{array_join}\nWHERE {' AND '.join(where)}"
    if keys:
        sql += f"\nGROUP BY {', '.join(alias for _, alias in keys)}"
        # A group whose calls corrections cancelled is gone, as its calls are (a rollup keeps its zeros).
        sql += "\nHAVING requests != 0 OR cost != 0"
    if order_by:
        sql += f"\nORDER BY {order_by}"
    if limited:
        sql += "\nLIMIT {limit:UInt32}" + (f" BY {limit_by}" if limit_by else "")
    return sql


def add_costs(costs: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of the known costs; None when none is known (every group unpriced)."""
    known = [cost for cost in costs if cost is not None]
    return sum(known, Decimal(0)) if known else None


def spend_fields(row: dict) -> dict:
    """The Spend fields of a result row, converted to Python types; cost None when the group
    has unpriced calls and no priced one (both sources give NULL then)."""
    values = {name: int(row[name]) for name in MEASURES if name != "cost"}
    cost = as_decimal(row["cost"])
    # No calls at all cost nothing, nor do calls that needed no price (refused by the budget
    # guard, failed before using anything); calls none of which is priced have an unknown cost.
    values["cost"] = Decimal(0) if cost is None and values["unpriced_requests"] == 0 else cost
    return values

