"""What the cost-cutting strategies saved: exact and semantic caching, routing (rules and
budget downgrades), fallbacks and the providers' own prompt caching.

    rows = savings_by(run, "strategy", start, end)     # or app, model, feature, ...
    rows[0].saved, rows[0].calls, rows[0].saved_share

`saved` is exact (Decimal) and net: routes to a dearer model and cache-write premiums
count against it. `saved_share` is the part of the bill the strategy avoided: saved /
(cost + all savings) — what the calls would have cost without any of them. The hourly
savings rollup answers when the range is on whole hours and the filters are in it;
otherwise the per-call rows do, with the same figures.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

from .dimensions import filter_conditions
from .runner import Runner, as_decimal, fetch
from .sources import grouped_query, source_for
from .sql_files import load_sql
from .time_range import checked_range, is_whole_day, is_whole_hour, range_parameters

# Dimension -> column of v_savings (and of v_llm_calls, where `strategy` is the ARRAY JOIN's alias).
SAVINGS_COLUMNS = {
    "strategy": "saving.1",
    "app": "app",
    "environment": "environment",
    "provider": "provider",
    "model": "model",
    "requested_model": "requested_model",
    "team": "team",
    "feature": "feature",
    "tenant": "tenant",
}
SAVINGS_DIMENSIONS = tuple(SAVINGS_COLUMNS)
STRATEGIES = ("exact_cache", "semantic_cache", "routing", "fallback", "prompt_cache")
_ROLLUP_FILTERS = frozenset(SAVINGS_COLUMNS) - {"strategy"}

_PLACES = Decimal("1e-6")
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class SavingsRow:
    dimension: str
    key: str
    calls: int  # calls the strategy (or strategies) applied to
    unvalued_calls: int  # of those, calls whose saving had no price (not in `saved`)
    saved: Decimal
    cost: Decimal | None  # what the key's calls cost (for strategies: all calls); None for requested_model
    saved_share: Decimal | None  # saved / (cost + savings), 6 places; None when nothing cost anything


def savings_by(run: Runner, dimension: str, start: datetime | date, end: datetime | date,
               filters: dict | None = None) -> list[SavingsRow]:
    """Savings per value of `dimension` (one of SAVINGS_DIMENSIONS) in [start, end), largest first."""
    if dimension not in SAVINGS_COLUMNS:
        raise ValueError(f"unknown savings dimension {dimension!r}: use one of {', '.join(SAVINGS_DIMENSIONS)}")
    start, end = checked_range(start, end)
    used, conditions, parameters = filter_conditions(filters)
    parameters.update(range_parameters(start, end))
    from_rollup = is_whole_hour(start) and is_whole_hour(end) and all(d.name in _ROLLUP_FILTERS for d in used)
    if from_rollup:
        key = "strategy" if dimension == "strategy" else SAVINGS_COLUMNS[dimension]
        rollup, time = ("llm_savings_daily", "day") if is_whole_day(start) and is_whole_day(end) else \
            ("llm_savings_hourly", "hour")
        template = load_sql("savings_from_rollup").replace("{rollup}", rollup).replace("{time}", time)
    else:
        key = SAVINGS_COLUMNS[dimension]
        template = load_sql("savings_from_calls")
    where = "".join(f" AND {condition}" for condition in conditions)
    rows = fetch(run, template.replace("{key}", key).replace("{conditions}", where), parameters)
    costs = _costs(run, dimension, start, end, filters)
    total_saved = sum((as_decimal(row["saved"]) for row in rows), Decimal(0))
    result = []
    for row in rows:
        saved = as_decimal(row["saved"])
        if dimension == "strategy":
            cost, base = costs.get(""), total_saved
        else:
            cost, base = costs.get(row["key"]), saved
        result.append(SavingsRow(dimension, row["key"], int(row["calls"]), int(row["unvalued_calls"]), saved, cost,
                                 _share(saved, cost, base)))
    return result


def _costs(run: Runner, dimension: str, start, end, filters) -> dict[str, Decimal]:
    """What the calls cost per key of `dimension` ("" for all calls when by strategy)."""
    from .dimensions import COLUMNS, parse_dimension

    if dimension != "strategy" and dimension not in COLUMNS:
        return {}
    used, conditions, parameters = filter_conditions(filters)
    parameters.update(range_parameters(start, end))
    keys = [] if dimension == "strategy" else [(COLUMNS[dimension], "key")]
    dimensions = used + ([] if dimension == "strategy" else [parse_dimension(dimension)])
    source = source_for(dimensions, start, end)
    parameters.update(source.parameters)
    sql = grouped_query(source, keys=keys, conditions=conditions)
    return {row.get("key", ""): as_decimal(row["cost"]) for row in fetch(run, sql, parameters)}


def _share(saved: Decimal, cost: Decimal | None, other_savings: Decimal) -> Decimal | None:
    if cost is None:
        return None
    would_have_cost = _CONTEXT.add(cost, other_savings)
    if would_have_cost <= 0:
        return None
    return _CONTEXT.divide(saved, would_have_cost).quantize(_PLACES, context=_CONTEXT)
