"""Budgets in ClickHouse: the definitions, the spend in a window, alert claims, the delivery log.

Every SQL statement the budgets run is here or in `sql/`; the rest of the package works
with Python values.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from importlib import resources
from string import Template
from typing import Iterable

from clickhouse_connect.driver.client import Client

from ..notify import ChannelConfigError, DeliveryAttempt, parse_channel
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
_ALERT_COLUMNS = ("dedup_key", "kind", "budget_id", "window_start", "threshold", "spend", "limit_amount",
                  "title", "claimant", "claimed_at", "message", "channels", "expires_at")
_DELIVERY_COLUMNS = ("attempted_at", "alert_key", "channel", "target", "attempt", "ok", "final", "status",
                     "error", "sender", "channel_id", "round", "expires_at")
_ROUND_COLUMNS = ("alert_key", "channel_id", "round", "claimant", "claimed_at", "expires_at")


def _sql(name: str) -> Template:
    return Template(resources.files(__package__).joinpath("sql", name).read_text(encoding="utf-8"))


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def _seconds(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


@dataclass(frozen=True)
class StoredAlert:
    """A claimed alert with what to send and to whom, as its claimant stored it."""

    key: str
    kind: str
    budget_id: str
    message: str  # Alert.to_json()
    channels: str  # JSON list of channel configurations
    expires_at: float  # retrying stops here: the end of the alert's window


@dataclass(frozen=True)
class DeliveryProgress:
    """Where the delivery of one alert to one channel stands."""

    last_round: int
    last_claimed_at: float
    delivered: bool
    attempts: int
    last_attempt_at: float | None
    last_error: str


class BudgetStore:
    def __init__(self, client: Client):
        self._client = client

    # --- definitions ------------------------------------------------------------------------

    def load(self) -> list[Budget]:
        """The current budgets. A row that no longer parses is skipped with a warning."""
        rows = self._client.query(
            "SELECT id, scope, scope_value, tenant, window_kind, timezone, rolling_seconds, limit_amount, "
            "thresholds, hard, fallback_model, channels, description FROM budgets FINAL ORDER BY id").result_rows
        budgets = []
        for (budget_id, scope, value, tenant, kind, zone, rolling, limit, thresholds, hard, fallback, channels,
             description) in rows:
            try:
                parsed_channels = tuple(parse_channel(c) for c in json.loads(channels or "[]"))
            except (ValueError, ChannelConfigError) as exc:
                log.warning("skipping budget %s: its stored channels do not parse: %s", budget_id, exc)
                continue
            budgets.append(Budget(
                id=budget_id, scope=scope, value=value, tenant=tenant, window=Window(kind, zone, rolling), limit=limit,
                thresholds=tuple(t.normalize() for t in thresholds), hard=bool(hard), fallback_model=fallback,
                channels=parsed_channels, description=description))
        return budgets

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
        """True when this claimant owns the alert; False when another one does.

        Every claimant inserts its row with the dedup key as insert_deduplication_token: the
        store keeps the first insert and silently drops the others (atomically, under the
        table's part lock; on a replicated table, through Keeper). Reading the row back then
        tells each claimant who won. The read before the insert saves work after a restart,
        and ordering by (claimed_at, claimant) settles it should the dedup window ever have
        forgotten the key. The row carries the message and its channels, so whoever runs
        later can deliver what this claimant could not."""
        if self._claimant_of(dedup_key) is not None:
            return False
        row = [dedup_key, kind, budget_id, _utc(window_start), threshold, spend, limit, title, claimant, _utc(now),
               message, channels, _utc(now if expires_at is None else expires_at)]
        self._client.insert("budget_alerts", [row], column_names=_ALERT_COLUMNS,
                            settings={"insert_deduplication_token": f"budget-alert:{dedup_key}"})
        return self._claimant_of(dedup_key) == claimant

    def highest_alerted(self, budget_id: str, window_start: int) -> Decimal | None:
        """The highest threshold of a budget already alerted in the window starting then."""
        rows = self._client.query(
            "SELECT max(threshold), count() FROM budget_alerts WHERE kind = 'budget_threshold' "
            "AND budget_id = {budget:String} AND window_start = {start:DateTime64(3, 'UTC')}",
            parameters={"budget": budget_id, "start": _utc(window_start)}).result_rows
        highest, found = rows[0]
        return highest.normalize() if found else None

    def _claimant_of(self, dedup_key: str) -> str | None:
        rows = self._client.query(
            "SELECT claimant FROM budget_alerts WHERE dedup_key = {key:String} ORDER BY claimed_at, claimant "
            "LIMIT 1", parameters={"key": dedup_key}).result_rows
        return rows[0][0] if rows else None

    # --- deliveries -------------------------------------------------------------------------

    def open_alerts(self, since: float) -> list[StoredAlert]:
        """Alerts with a message whose retrying ends after `since`."""
        rows = self._client.query(_sql("open_alerts.sql").template, parameters={"since": _utc(since)}).result_rows
        return [StoredAlert(key, kind, budget_id, message, channels, _seconds(expires_at))
                for key, kind, budget_id, message, channels, expires_at in rows]

    def delivery_progress(self, alert_keys: list[str]) -> dict[tuple[str, str], DeliveryProgress]:
        """(alert key, channel id) -> progress, for the deliveries that have had a round."""
        if not alert_keys:
            return {}
        rows = self._client.query(_sql("delivery_progress.sql").template,
                                  parameters={"keys": alert_keys}).result_rows
        return {(key, channel): DeliveryProgress(int(last_round), _seconds(claimed_at), bool(delivered),
                                                 int(attempts), _seconds(attempted_at) if attempts else None, error)
                for key, channel, last_round, claimed_at, delivered, attempts, attempted_at, error in rows}

    def claim_round(self, *, alert_key: str, channel_id: str, round_: int, claimant: str, now: float,
                    expires_at: float) -> bool:
        """True when this claimant sends this round of this delivery (as claim_alert decides it)."""
        if self._round_claimant(alert_key, channel_id, round_) is not None:
            return False
        row = [alert_key, channel_id, round_, claimant, _utc(now), _utc(expires_at)]
        self._client.insert("notification_claims", [row], column_names=_ROUND_COLUMNS, settings={
            "insert_deduplication_token": f"notification-round:{alert_key}|{channel_id}|{round_}"})
        return self._round_claimant(alert_key, channel_id, round_) == claimant

    def _round_claimant(self, alert_key: str, channel_id: str, round_: int) -> str | None:
        rows = self._client.query(
            "SELECT claimant FROM notification_claims WHERE alert_key = {key:String} AND channel_id = {channel:String} "
            "AND round = {round:UInt32} ORDER BY claimed_at, claimant LIMIT 1",
            parameters={"key": alert_key, "channel": channel_id, "round": round_}).result_rows
        return rows[0][0] if rows else None

    def record_delivery(self, attempt: DeliveryAttempt, sender: str, *, round_: int = 1,
                        expires_at: float | None = None) -> None:
        row = [_utc(attempt.attempted_at), attempt.alert_key, attempt.channel, attempt.target, attempt.attempt,
               attempt.ok, attempt.final, attempt.status, attempt.error[:1000], sender, attempt.channel_id, round_,
               _utc(attempt.attempted_at if expires_at is None else expires_at)]
        self._client.insert("notification_deliveries", [row], column_names=_DELIVERY_COLUMNS)
