"""Who moved: the values of a dimension whose spend grew or fell most against an earlier range."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

from .breakdown import cost_by
from .records import CostRow
from .runner import Runner

_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)
_PLACES = Decimal("1e-12")


@dataclass(frozen=True, kw_only=True)
class Mover:
    key: str
    cost: Decimal  # in the range
    previous_cost: Decimal  # in the earlier range
    change: Decimal  # cost - previous_cost
    change_ratio: Decimal | None  # change / previous_cost; None when nothing was spent before (new)


@dataclass(frozen=True, kw_only=True)
class Movers:
    dimension: str
    risers: tuple[Mover, ...]  # biggest growth first
    fallers: tuple[Mover, ...]  # biggest fall first


def movers(run: Runner, dimension: str, start: datetime | date, end: datetime | date,
           previous_start: datetime | date, previous_end: datetime | date, *, limit: int = 5,
           filters: dict | None = None) -> Movers:
    """The `limit` values of `dimension` whose spend grew most from [previous_start,
    previous_end) to [start, end), and the `limit` that fell most. A value with calls in
    one range only counts as 0 in the other. Values whose calls are all unpriced in either
    range have no known change and are left out (the unpriced models say which)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValueError(f"limit must be a positive whole number, got {limit!r}")
    return compare(dimension, cost_by(run, dimension, start, end, filters=filters),
                   cost_by(run, dimension, previous_start, previous_end, filters=filters), limit)


def compare(dimension: str, rows: list[CostRow], previous_rows: list[CostRow], limit: int) -> Movers:
    """`movers` for a caller that has both ranges' breakdown rows already."""
    now, before = _known_costs(rows), _known_costs(previous_rows)
    changes = []
    for key in now.keys() | before.keys():
        cost, previous = now.get(key, Decimal(0)), before.get(key, Decimal(0))
        if cost is None or previous is None or cost == previous:
            continue
        change = _CONTEXT.subtract(cost, previous)
        ratio = None if previous == 0 else _CONTEXT.divide(change, previous).quantize(_PLACES, context=_CONTEXT)
        changes.append(Mover(key=key, cost=cost, previous_cost=previous, change=change, change_ratio=ratio))
    risers = sorted((m for m in changes if m.change > 0), key=lambda m: (-m.change, m.key))
    fallers = sorted((m for m in changes if m.change < 0), key=lambda m: (m.change, m.key))
    return Movers(dimension=dimension, risers=tuple(risers[:limit]), fallers=tuple(fallers[:limit]))


def _known_costs(rows) -> dict[str, Decimal | None]:
    """key -> cost, None where every call of the key is unpriced."""
    return {row.key: None if row.cost is None or (row.requests and row.unpriced_requests == row.requests)
            else row.cost for row in rows}
