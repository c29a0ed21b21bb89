"""Where a budget stands: spend, what is left, and where the window is heading.

The projection is linear in the elapsed part of the window: spending as fast as so far,
the window ends at spend × window length / time elapsed, and the limit is reached at
window start + elapsed × limit / spend (reported only when that falls inside the window).
A rolling window has no end, so it has no projection.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from .model import MONEY_PLACES, Budget, money_text


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    window_start: int  # epoch seconds
    window_end: int | None  # None for a rolling window
    spend: Decimal
    remaining: Decimal  # never below 0
    percent: Decimal  # of the limit, two places
    projected_spend: Decimal | None
    projected_breach_at: int | None  # epoch seconds
    exceeded: bool

    def to_dict(self) -> dict[str, Any]:
        budget = self.budget
        return {
            "id": budget.id, "scope": budget.scope, "value": budget.value, "tenant": budget.tenant,
            "window": budget.window.kind,
            "window_description": budget.window.describe(), "hard": budget.hard,
            "fallback_model": budget.fallback_model or None,
            "spend": money_text(self.spend), "limit": money_text(budget.limit),
            "remaining": money_text(self.remaining), "percent": str(self.percent), "exceeded": self.exceeded,
            "window_start": iso(self.window_start), "window_end": iso(self.window_end),
            "projected_spend": None if self.projected_spend is None else money_text(self.projected_spend),
            "projected_breach_at": iso(self.projected_breach_at),
            "thresholds": [money_text(t) for t in budget.thresholds],
        }


def budget_status(budget: Budget, window_start: int, window_end: int | None, spend: Decimal,
                  now: float) -> BudgetStatus:
    limit = budget.limit
    projected = breach_at = None
    with localcontext() as context:
        context.prec = 60  # room for 26 integer and 12 decimal digits, and then some
        percent = (spend * 100 / limit).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        elapsed = Decimal(repr(now)) - window_start
        if window_end is not None:
            length = window_end - window_start
            projected = spend if elapsed <= 0 else (spend * length / elapsed).quantize(MONEY_PLACES)
            if 0 < spend < limit and elapsed > 0:
                moment = window_start + elapsed * limit / spend
                breach_at = int(moment) if moment < window_end else None
    return BudgetStatus(budget, window_start, window_end, spend, max(limit - spend, Decimal(0)), percent,
                        projected, breach_at, spend >= limit)


def iso(seconds: int | None) -> str | None:
    """UTC, e.g. 2026-03-01T23:00:00Z."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
