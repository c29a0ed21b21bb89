"""The headline figures for a time range: total cost, requests, tokens, averages, cache savings."""
from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

from .dimensions import filter_conditions
from .records import CostSummary
from .runner import Runner, as_decimal, fetch
from .sources import CALLS, DAILY_ROLLUP, HOURLY_ROLLUP, HOURS_AND_DAYS, Source, grouped_query, source_for, spend_fields
from .sql_files import load_sql
from .time_range import checked_range, range_parameters

# Averages are quotients: kept to the store's 12 decimal places, rounded half-even.
_PLACES = Decimal("1e-12")
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)

# Cache savings need the per-call cost breakdown: the per-call view derives them, and the
# rollups of migrations 025 (per hour) and 028 (per day) keep them. Columns are named with
# their view where the measures reuse the name as an alias.
_EXTRA_MEASURES = """countIf(v_llm_calls.cost IS NOT NULL) AS priced_requests,
        sumIf(v_llm_calls.total_tokens, v_llm_calls.cost IS NOT NULL) AS priced_tokens,
        sum(cache_savings) AS cache_savings,
        countIf(cache_savings_unknown) AS cache_savings_unknown_requests"""
_SAVINGS_MEASURES = ("priced_requests", "priced_tokens", "cache_savings", "cache_savings_unknown_requests")
# Beside each cost source, the one that holds the cache savings of the same rows.
_SAVINGS_ROLLUPS = {
    HOURLY_ROLLUP: Source(view="llm_cache_savings_hourly", time_column="hour", measures=", ".join(
        f"sum(llm_cache_savings_hourly.{name}) AS {name}" for name in _SAVINGS_MEASURES)),
    HOURS_AND_DAYS: Source(view=load_sql("rollup_cache_savings_hours_and_days"), time_column="hour",
                           measures=", ".join(f"sum(rollup.{name}) AS {name}" for name in _SAVINGS_MEASURES)),
}


def summary(run: Runner, start: datetime | date, end: datetime | date, filters: dict | None = None) -> CostSummary:
    """Totals over [start, end). Averages are over priced calls only (an unpriced call has
    no cost to average); both are None when nothing was priced."""
    start, end = checked_range(start, end)
    filtered_by, conditions, parameters = filter_conditions(filters)
    parameters.update(range_parameters(start, end))
    source = source_for(filtered_by, start, end)
    if source is DAILY_ROLLUP:  # it holds the savings beside the costs: one query
        savings = ", ".join(f"sum(llm_cost_daily.{name}) AS {name}" for name in _SAVINGS_MEASURES)
        row = fetch(run, grouped_query(source, keys=[], conditions=conditions, extra_measures=savings), parameters)[0]
    elif source in _SAVINGS_ROLLUPS:
        row = fetch(run, grouped_query(source, keys=[], conditions=conditions), parameters)[0]
        row.update(fetch(run, grouped_query(_SAVINGS_ROLLUPS[source], keys=[], conditions=conditions), parameters)[0])
    else:
        sql = grouped_query(CALLS, keys=[], conditions=conditions, extra_measures=_EXTRA_MEASURES)
        row = fetch(run, sql, parameters)[0]
    spend = spend_fields(row)
    priced_requests, priced_tokens = int(row["priced_requests"]), int(row["priced_tokens"])
    return CostSummary(
        start=start,
        end=end,
        priced_requests=priced_requests,
        priced_tokens=priced_tokens,
        average_cost_per_request=_ratio(spend["cost"], priced_requests),
        average_cost_per_1k_tokens=(None if spend["cost"] is None
                                    else _ratio(_CONTEXT.multiply(spend["cost"], 1000), priced_tokens)),
        cache_savings=as_decimal(row["cache_savings"]),
        cache_savings_unknown_requests=int(row["cache_savings_unknown_requests"]),
        **spend,
    )


def _ratio(amount: Decimal | None, count: int) -> Decimal | None:
    if count == 0 or amount is None:
        return None
    return _CONTEXT.divide(amount, Decimal(count)).quantize(_PLACES, context=_CONTEXT)
