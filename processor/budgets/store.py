"""Budgets in ClickHouse: the definitions, the spend in a window, and (from the outbox)
alert claims and the delivery log.

Every SQL statement the budgets run is here, in `sql/` or in the outbox; the rest of the
package works with Python values.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from decimal import Decimal
from importlib import resources
from string import Template
from typing import Iterable

from ..notify import ChannelConfigError, parse_channel
from ..notify.outbox import OutboxStore
from .model import Budget, Window

log = logging.getLogger(__name__)

# The column (or expression) of llm_spans each scope compares; "all" compares nothing.
_SCOPE_COLUMNS = {"app": "app", "team": "team", "user": "user_id", "model": "model", "provider": "provider",
                  "environment": "environment", "feature": "feature", "tenant": "tenant", "all": "''"}
_IN_HOURLY_ROLLUP = {"app", "team", "model", "provider", "environment", "feature", "tenant", "all"}
_TAG_COLUMN = "tags[{tag_name:String}]"

_BUDGET_COLUMNS = ("id", "scope", "scope_value", "tenant", "window_kind", "timezone", "rolling_seconds", "limit_amount",
                   "thresholds", "hard", "fallback_model", "channels", "description", "source", "updated_at",
                   "is_deleted")


def _sql(name: str) -> Template:
    return Template(resources.files(__package__).joinpath("sql", name).read_text(encoding="utf-8"))


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def budgets_in_force_sql() -> str:
    return _sql("budgets_in_force.sql").template


def budget_from_row(row) -> Budget | None:
    """A row of budgets_in_force.sql as a Budget; None (with a warning) when it no longer parses."""
    (budget_id, scope, value, tenant, kind, zone, rolling, limit, thresholds, hard, fallback, channels,
     description) = row
    try:
        parsed_channels = tuple(parse_channel(c) for c in json.loads(channels or "[]"))
    except (ValueError, ChannelConfigError) as exc:
        log.warning("skipping budget %s: its stored channels do not parse: %s", budget_id, exc)
        return None
    return Budget(id=budget_id, scope=scope, value=value, tenant=tenant, window=Window(kind, zone, int(rolling)),
                  limit=Decimal(limit), thresholds=tuple(Decimal(t).normalize() for t in thresholds), hard=bool(hard),
                  fallback_model=fallback, channels=parsed_channels, description=description)


class BudgetStore(OutboxStore):
    """The budgets' tables, and the outbox that their alerts are claimed and delivered through."""

    # --- definitions ------------------------------------------------------------------------

    def load(self) -> list[Budget]:
        """The current budgets. A row that no longer parses is skipped with a warning."""
        rows = self._client.query(budgets_in_force_sql()).result_rows
        return [budget for budget in map(budget_from_row, rows) if budget is not None]

    def sources(self) -> dict[str, str]:
        """Budget id -> where it came from ("file" or "cli")."""
        return dict(self._client.query("SELECT id, source FROM budgets FINAL").result_rows)

    def upsert(self, budgets: Iterable[Budget], *, source: str, now: float) -> None:
        rows = [[b.id, b.scope, b.value, b.tenant, b.window.kind, b.window.timezone, b.window.rolling_seconds, b.limit,
                 list(b.thresholds), b.hard, b.fallback_model,
                 json.dumps([c.to_dict() for c in b.channels], sort_keys=True), b.description, source,
                 _utc(now), 0] for b in budgets]
        if rows:
            self._client.insert("budgets", rows, column_names=_BUDGET_COLUMNS)

    def delete(self, budget_ids: Iterable[str], *, now: float) -> list[str]:
        """Hide the given budgets; returns the ids that existed."""
        wanted = list(budget_ids)
        existing = [row[0] for row in self._client.query(
            "SELECT id FROM budgets FINAL WHERE id IN {ids:Array(String)}", parameters={"ids": wanted}).result_rows]
        rows = [[budget_id, "all", "", "", "daily", "UTC", 0, Decimal(0), [], False, "", "[]", "", "deleted",
                 _utc(now), 1] for budget_id in existing]
        if rows:
            self._client.insert("budgets", rows, column_names=_BUDGET_COLUMNS)
        return existing

    # --- spend --------------------------------------------------------------------------------

    def spend_in_range(self, scope: str, tag_name: str, tenant: str, values: list[str], start: int, end: int
                       ) -> dict[str, Decimal]:
        """Spend per scope value over [start, end), from the hourly rollup where the scope has one;
        with `tenant`, of that tenant's calls only."""
        if end <= start:
            return {}
        file = "spend_from_rollup.sql" if scope in _IN_HOURLY_ROLLUP else "spend_from_calls.sql"
        rows = self._spend_query(file, scope, tag_name, tenant, values, start, end)
        return {value: spend for value, spend in rows}

    def spend_by_minute(self, scope: str, tag_name: str, tenant: str, values: list[str], start: int, end: int
                        ) -> dict[str, dict[int, Decimal]]:
        """Spend per scope value and minute over [start, end), for rolling windows."""
        found: dict[str, dict[int, Decimal]] = {}
        if end <= start:
            return found
        rows = self._spend_query("spend_by_minute.sql", scope, tag_name, tenant, values, start, end)
        for value, minute, spend in rows:
            found.setdefault(value, {})[int(minute)] = spend
        return found

    def _spend_query(self, file: str, scope: str, tag_name: str, tenant: str, values: list[str], start: int,
                     end: int) -> list[tuple]:
        column = _TAG_COLUMN if tag_name else _SCOPE_COLUMNS[scope]
        return self._client.query(_sql(file).substitute(dimension=column), parameters={
            "range_start": _utc(start), "range_end": _utc(end), "scope_values": values, "tenant": tenant,
            **({"tag_name": tag_name} if tag_name else {})}).result_rows

    # --- alerts -------------------------------------------------------------------------------

    def claim_alert(self, *, dedup_key: str, kind: str, budget_id: str, window_start: int,
                    threshold: Decimal, spend: Decimal, limit: Decimal, title: str, claimant: str,
                    now: float, message: str = "", channels: str = "[]", expires_at: float | None = None) -> bool:
        """True when this claimant owns the alert (see OutboxStore.claim)."""
        return self.claim(dedup_key=dedup_key, kind=kind, owner=budget_id, window_start=window_start, title=title,
                          claimant=claimant, now=now, message=message, channels=channels, expires_at=expires_at,
                          threshold=threshold, spend=spend, limit=limit)

    def highest_alerted(self, budget_id: str, window_start: int) -> Decimal | None:
        """The highest threshold of a budget already alerted in the window starting then."""
        rows = self._client.query(
            "SELECT max(threshold), count() FROM budget_alerts WHERE kind = 'budget_threshold' "
            "AND budget_id = {budget:String} AND window_start = {start:DateTime64(3, 'UTC')}",
            parameters={"budget": budget_id, "start": _utc(window_start)}).result_rows
        highest, found = rows[0]
        return highest.normalize() if found else None
