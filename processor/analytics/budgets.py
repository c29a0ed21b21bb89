"""What a budget page shows around a budget's live status: the burn-down of its window,
the thresholds crossed, its alerts and their deliveries, and the throttle's state.

The live status itself (spend, projection, breach time) is the budget service's
(`BudgetService.status()`); this module only reads the store around it.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterable

from ..budgets.model import Budget
from ..budgets.status import BudgetStatus, budget_status
from ..budgets.store import budget_from_row, budgets_in_force_sql
from ..budgets.windows import alert_period_start, calendar_bounds, zone
from .breakdown import total_spend
from .records import AlertRecord, BudgetDetail, BudgetUse, BurnPoint
from .runner import Runner, as_decimal, as_moment, fetch
from .sql_files import load_sql
from .time_range import checked_range
from .trend import cost_trend
from .usage import refused_calls

_LONG_WINDOW = timedelta(days=2)  # longer windows burn down per day, shorter ones per hour


def budget_details(run: Runner, statuses: Iterable[BudgetStatus], now: float) -> list[BudgetDetail]:
    """One BudgetDetail per status, in the order given."""
    statuses = list(statuses)
    periods = {s.budget.id: alert_period_start(s.budget.window, now) for s in statuses}
    alerts = _alerts(run, periods)
    details = []
    for status in statuses:
        budget = status.budget
        period = datetime.fromtimestamp(periods[budget.id], timezone.utc)
        mine = tuple(a for a in alerts if a.budget_id == budget.id and a.window_start == period)
        details.append(BudgetDetail(
            status=status,
            burn_down=tuple(burn_down(run, status, now)),
            thresholds_crossed=tuple(t for t in budget.thresholds if status.spend >= budget.limit * t),
            alerts=mine,
            throttle=throttle_state(status)))
    return details


def burn_down(run: Runner, status: BudgetStatus, now: float) -> list[BurnPoint]:
    """Cumulative spend of the budget's calls from the window's start up to now, per hour (per
    day in the budget's zone for windows over two days), from the rollups where the scope has one."""
    budget = status.budget
    start = datetime.fromtimestamp(status.window_start, timezone.utc)
    end = datetime.fromtimestamp(now, timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = start.replace(minute=0, second=0, microsecond=0)  # a rolling window's start, to the hour
    if end <= start:
        return []
    length = (datetime.fromtimestamp(status.window_end, timezone.utc) - start) if status.window_end else end - start
    daily = length > _LONG_WINDOW and not budget.window.is_rolling
    points = cost_trend(run, "day" if daily else "hour", start, end, filters=budget.call_filters(),
                        tz=budget.window.timezone if daily else "UTC")
    found, total = [], Decimal(0)
    for point in points:
        total += point.cost or Decimal(0)  # unpriced calls spend nothing a budget can count
        if daily:
            day_end = datetime(point.bucket.year, point.bucket.month, point.bucket.day,
                               tzinfo=zone(budget.window.timezone)) + timedelta(days=1)
            at = min(day_end.astimezone(timezone.utc), end)
        else:
            at = as_moment(point.bucket) + timedelta(hours=1)
        found.append(BurnPoint(at=at, spend=total))
    return found


def budgets_in_force(run: Runner) -> list[Budget]:
    """The budgets defined in the store (as the budget service loads them)."""
    _, rows = run(budgets_in_force_sql())
    return [budget for budget in map(budget_from_row, rows) if budget is not None]


def budget_filters(budget: Budget) -> dict:
    """The analytics filters that select a budget's calls (a tenant's budget: of that tenant only)."""
    filters = {} if budget.scope == "all" else {budget.scope: budget.value}
    return filters | ({"tenant": budget.tenant} if budget.tenant else {})


def budget_use(run: Runner, budgets: Iterable[Budget], start: datetime, end: datetime,
               month_zone: str = "UTC") -> list[BudgetUse]:
    """How each budget was used in [start, end) and where it stood at `end`: its spend in the
    range and in the calendar month (in `month_zone`) up to `end`, its window at `end` (the
    one holding the range's last moment) with the projection to that window's end, the
    thresholds crossed, the burn-down, and the calls its guard refused in the range."""
    start, end = checked_range(start, end)
    last = end.timestamp() - 1e-6
    month_start = datetime.fromtimestamp(calendar_bounds("monthly", month_zone, last)[0], timezone.utc)
    found = []
    for budget in budgets:
        filters = budget_filters(budget)
        if budget.window.is_rolling:
            window_start, window_end = int(end.timestamp()) - budget.window.rolling_seconds, None
        else:
            window_start, window_end = calendar_bounds(budget.window.kind, budget.window.timezone, last)
        in_window = total_spend(run, datetime.fromtimestamp(window_start, timezone.utc),
                                min(end, datetime.fromtimestamp(window_end or end.timestamp(), timezone.utc)),
                                filters).cost
        status = budget_status(budget, window_start, window_end, in_window or Decimal(0), end.timestamp())
        found.append(BudgetUse(
            budget=budget, status=status,
            spend=total_spend(run, start, end, filters).cost,
            month_to_date=total_spend(run, month_start, end, filters).cost,
            thresholds_crossed=tuple(t for t in budget.thresholds if status.spend >= budget.limit * t),
            burn_down=tuple(burn_down(run, status, end.timestamp())),
            refused_calls=refused_calls(run, start, end, filters)))
    return found


def throttle_state(status: BudgetStatus) -> str:
    """What the throttle answers for this budget's calls now: allow, deny or degrade to a model."""
    budget = status.budget
    if not (budget.hard and status.exceeded):
        return "allow"
    return f"degrade to {budget.fallback_model}" if budget.fallback_model else "deny"


def _alerts(run: Runner, periods: dict[str, int]) -> list[AlertRecord]:
    if not periods:
        return []
    since = datetime.fromtimestamp(min(periods.values()), timezone.utc)
    rows = fetch(run, load_sql("budget_alerts"), {"budget_ids": list(periods),
                                                  "since": since.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]})
    return [AlertRecord(key=row["key"], kind=row["kind"], budget_id=row["budget_id"],
                        window_start=as_moment(row["window_start"]),
                        threshold=as_decimal(row["threshold"]), spend=as_decimal(row["spend"]), title=row["title"],
                        claimed_at=as_moment(row["claimed_at"]), sent=int(row["sent"]), pending=int(row["pending"]),
                        failed=int(row["failed"]))
            for row in rows]

