"""The outbox: messages claimed once in the store, then delivered until every channel has
them, or their retrying ends. Budget alerts, anomaly alerts and scheduled reports all go
through it.

A claim is a row in `budget_alerts` (the alert log, migration 005; the name predates the
reports) keyed by the message's dedup key: every claimant inserts with the key as
insert_deduplication_token, the store keeps the first insert, and whoever's row is there
owns the message. The row carries the message and its channels, so the store alone knows
what is still to send: after a failure, a restart, or on another replica.

Each pass sends the rounds that are due. A round is a few attempts in a row (the
notifier's retries, seconds apart); after a failed round the next one waits
`backoff_seconds` × 2ⁿ (at most `max_backoff_seconds`), however the channel failed: a
missing SMTP server or secret is fixed by an operator, and then the next round gets
through. Every round is claimed in `notification_claims` the same way, so N replicas send
it once. A message that got through but whose success could not be recorded may be sent
again by another replica: at least once, with the key in every message for the receiver
to drop a repeat.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from importlib import resources
from typing import Any, Callable, Iterable

from .base import Alert, ChannelConfigError
from .channels import Channel, channel_id, parse_channel
from .notifier import DeliveryAttempt, DeliveryResult, Notifier

log = logging.getLogger(__name__)

FAILED_SHOWN_SECONDS = 7 * 86_400  # how long a delivery that gave up stays in the status

_CLAIM_COLUMNS = ("dedup_key", "kind", "budget_id", "window_start", "threshold", "spend", "limit_amount",
                  "title", "claimant", "claimed_at", "message", "channels", "expires_at")
_DELIVERY_COLUMNS = ("attempted_at", "alert_key", "channel", "target", "attempt", "ok", "final", "status",
                     "error", "sender", "channel_id", "round", "expires_at")
_ROUND_COLUMNS = ("alert_key", "channel_id", "round", "claimant", "claimed_at", "expires_at")


def _sql(name: str) -> str:
    return resources.files(__package__).joinpath("sql", name).read_text(encoding="utf-8")


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def _seconds(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def channels_json(channels: Iterable[Channel]) -> str:
    """Channels as a claim stores them."""
    return json.dumps([c.to_dict() for c in channels], sort_keys=True)


@dataclass(frozen=True)
class StoredAlert:
    """A claimed message with what to send and to whom, as its claimant stored it."""

    key: str
    kind: str
    budget_id: str  # the budget (or report schedule) it belongs to; "" for an anomaly
    message: str  # Alert.to_json()
    channels: str  # JSON list of channel configurations
    expires_at: float  # retrying stops here (an alert: the end of its window)


@dataclass(frozen=True)
class DeliveryProgress:
    """Where the delivery of one message to one channel stands."""

    last_round: int
    last_claimed_at: float
    delivered: bool
    attempts: int
    last_attempt_at: float | None
    last_error: str


@dataclass(frozen=True)
class DeliveryStatus:
    """A message a channel has not received: `pending` (another round will be tried) or
    `failed` (its retrying ends before another round)."""

    alert_key: str
    budget_id: str  # "" for an anomaly alert; the schedule's id for a report
    title: str
    channel: str
    target: str  # host or recipients, never a secret
    state: str
    rounds: int
    attempts: int
    last_attempt_at: float | None
    last_error: str
    next_attempt_at: float | None  # None when no round is left before retrying ends
    gives_up_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"alert": self.alert_key, "budget_id": self.budget_id or None, "title": self.title,
                "channel": self.channel, "target": self.target, "state": self.state, "rounds": self.rounds,
                "attempts": self.attempts, "last_attempt_at": _iso_time(self.last_attempt_at),
                "last_error": self.last_error or None, "next_attempt_at": _iso_time(self.next_attempt_at),
                "gives_up_at": _iso_time(self.gives_up_at)}


def _iso_time(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(int(seconds), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class OutboxStore:
    """The outbox's claims, rounds and delivery log in ClickHouse."""

    def __init__(self, client):
        self._client = client

    def claim(self, *, dedup_key: str, kind: str, owner: str, window_start: float, title: str, claimant: str,
              now: float, message: str = "", channels: str = "[]", expires_at: float | None = None,
              threshold: Decimal = Decimal(0), spend: Decimal = Decimal(0), limit: Decimal = Decimal(0)) -> bool:
        """True when this claimant owns the message; False when another one does.

        Every claimant inserts its row with the dedup key as insert_deduplication_token: the
        store keeps the first insert and silently drops the others (atomically, under the
        table's part lock; on a replicated table, through Keeper). Reading the row back then
        tells each claimant who won. The read before the insert saves work after a restart,
        and ordering by (claimed_at, claimant) settles it should the dedup window ever have
        forgotten the key."""
        if self.claimant_of(dedup_key) is not None:
            return False
        row = [dedup_key, kind, owner, _utc(window_start), threshold, spend, limit, title, claimant, _utc(now),
               message, channels, _utc(now if expires_at is None else expires_at)]
        self._client.insert("budget_alerts", [row], column_names=_CLAIM_COLUMNS,
                            settings={"insert_deduplication_token": f"budget-alert:{dedup_key}"})
        return self.claimant_of(dedup_key) == claimant

    def claimant_of(self, dedup_key: str) -> str | None:
        rows = self._client.query(
            "SELECT claimant FROM budget_alerts WHERE dedup_key = {key:String} ORDER BY claimed_at, claimant "
            "LIMIT 1", parameters={"key": dedup_key}).result_rows
        return rows[0][0] if rows else None

    def open_alerts(self, since: float, kinds: Iterable[str]) -> list[StoredAlert]:
        """Messages of these kinds whose retrying ends after `since`."""
        rows = self._client.query(_sql("open_messages.sql"),
                                  parameters={"since": _utc(since), "kinds": list(kinds)}).result_rows
        return [StoredAlert(key, kind, owner, message, channels, _seconds(expires_at))
                for key, kind, owner, message, channels, expires_at in rows]

    def delivery_progress(self, alert_keys: list[str]) -> dict[tuple[str, str], DeliveryProgress]:
        """(key, channel id) -> progress, for the deliveries that have had a round."""
        if not alert_keys:
            return {}
        rows = self._client.query(_sql("delivery_progress.sql"), parameters={"keys": alert_keys}).result_rows
        return {(key, channel): DeliveryProgress(int(last_round), _seconds(claimed_at), bool(delivered),
                                                 int(attempts), _seconds(attempted_at) if attempts else None, error)
                for key, channel, last_round, claimed_at, delivered, attempts, attempted_at, error in rows}

    def claim_round(self, *, alert_key: str, channel_id: str, round_: int, claimant: str, now: float,
                    expires_at: float) -> bool:
        """True when this claimant sends this round of this delivery (decided as `claim` decides)."""
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


@dataclass(frozen=True)
class Round:
    """One round of attempts, claimed by this process."""

    stored: StoredAlert
    alert: Alert
    channel: Channel
    channel_id: str
    number: int
    last: bool  # retrying ends before another round would be due


class Outbox:
    """Delivers the claimed messages of some `kinds` (each user of the outbox its own)."""

    def __init__(self, notifier: Notifier, *, kinds: Iterable[str], clock: Callable[[], float], claimant: str,
                 backoff_seconds: float = 60.0, max_backoff_seconds: float = 1800.0):
        self._notifier = notifier
        self.kinds = tuple(kinds)
        self._clock = clock
        self._claimant = claimant
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        # Successes this process could not record: not sent again from here.
        self._delivered_here: dict[tuple[str, str], None] = {}

    def due_rounds(self, store: OutboxStore) -> list[Round]:
        """Claim and return every round that is due now; store trouble means none this time."""
        now = self._clock()
        try:
            outstanding = list(self._outstanding(store, since=now))
        except Exception:
            log.warning("cannot read the messages still to deliver; will retry", exc_info=True)
            return []
        due = []
        for stored, alert, cid, channel, done in outstanding:
            if (stored.key, cid) in self._delivered_here or (done is not None and now < self._next_round_at(done)):
                continue
            number = done.last_round + 1 if done else 1
            try:
                mine = store.claim_round(alert_key=stored.key, channel_id=cid, round_=number,
                                         claimant=self._claimant, now=now, expires_at=stored.expires_at)
            except Exception:
                log.warning("cannot claim delivery round %d of %s", number, stored.key, exc_info=True)
                continue
            if mine:
                last = now + self._backoff(number) >= stored.expires_at
                due.append(Round(stored, alert, channel, cid, number, last))
        return due

    def send(self, store: OutboxStore, rounds: list[Round]) -> list[DeliveryResult]:
        """Send the rounds (each channel in its own thread) and record every attempt."""
        by_alert: dict[str, tuple[Alert, list[Channel]]] = {}
        for round_ in rounds:
            by_alert.setdefault(round_.alert.key, (round_.alert, []))[1].append(round_.channel)
        attempts: list[DeliveryAttempt] = []
        results = self._notifier.deliver(list(by_alert.values()), delivery_log=attempts.append)
        rounds_by = {(r.alert.key, r.channel_id): r for r in rounds}
        for attempt in attempts:
            round_ = rounds_by[(attempt.alert_key, attempt.channel_id)]
            # Final only when nothing follows: the notifier's last try is final only in the last round.
            attempt = replace(attempt, final=attempt.ok or (attempt.final and round_.last))
            if attempt.ok:
                self._remember_delivered(attempt.alert_key, attempt.channel_id)
            try:
                store.record_delivery(attempt, self._claimant, round_=round_.number,
                                      expires_at=round_.stored.expires_at)
            except Exception:
                log.warning("cannot record the delivery of %s", attempt.alert_key, exc_info=True)
        return results

    def undelivered(self, store: OutboxStore) -> list[DeliveryStatus]:
        """Deliveries still pending, and those that gave up in the last week."""
        now = self._clock()
        found = []
        for stored, alert, _, channel, done in self._outstanding(store, since=now - FAILED_SHOWN_SECONDS):
            next_at = max(now, self._next_round_at(done)) if done else now
            if next_at >= stored.expires_at:  # no round left before retrying ends
                next_at = None
            found.append(DeliveryStatus(
                alert_key=stored.key, budget_id=stored.budget_id, title=alert.title, channel=channel.type,
                target=channel.target(), state="failed" if next_at is None else "pending",
                rounds=done.last_round if done else 0, attempts=done.attempts if done else 0,
                last_attempt_at=done.last_attempt_at if done else None,
                last_error=done.last_error if done else "", next_attempt_at=next_at, gives_up_at=stored.expires_at))
        return found

    def _outstanding(self, store: OutboxStore, since: float):
        """(stored message, message, channel id, channel, progress or None) for every channel
        that has not had a message whose retrying ends after `since`."""
        alerts = store.open_alerts(since, self.kinds)
        progress = store.delivery_progress([a.key for a in alerts])
        for stored in alerts:
            message = _parsed(stored)
            if message is None:
                continue
            alert, channels = message
            for cid, channel in channels.items():
                done = progress.get((stored.key, cid))
                if done is None or not done.delivered:
                    yield stored, alert, cid, channel, done

    def _next_round_at(self, done: DeliveryProgress) -> float:
        return done.last_claimed_at + self._backoff(done.last_round)

    def _backoff(self, rounds: int) -> float:
        return min(self.backoff_seconds * 2 ** (rounds - 1), self.max_backoff_seconds)

    def _remember_delivered(self, alert_key: str, cid: str) -> None:
        self._delivered_here[(alert_key, cid)] = None
        while len(self._delivered_here) > 10_000:  # the store remembers the rest
            del self._delivered_here[next(iter(self._delivered_here))]


def _parsed(stored: StoredAlert) -> tuple[Alert, dict[str, Channel]] | None:
    try:
        alert = Alert.from_json(stored.message)
        channels = {channel_id(c): c for c in map(parse_channel, json.loads(stored.channels))}
    except (ValueError, KeyError, TypeError, ChannelConfigError) as exc:
        log.warning("%s cannot be delivered: its stored message does not parse: %s", stored.key, exc)
        return None
    return alert, channels
