"""Delivering claimed alerts until every channel has them, or their window ends.

The claim of an alert in `budget_alerts` carries its message and channels, so the store
alone knows what is still to send: after a failure, a restart, or on another replica.
Each evaluation sends the rounds that are due. A round is a few attempts in a row (the
notifier's retries, seconds apart); after a failed round the next one waits
`backoff_seconds` × 2ⁿ (at most `max_backoff_seconds`), however the channel failed: a
missing SMTP server or secret is fixed by an operator, and then the next round gets
through. Every round is claimed in `notification_claims` as alerts are, so N replicas send
it once. A message that got through but whose success could not be recorded may be sent
again by another replica: at least once, with the alert key in every message for the
receiver to drop a repeat.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Callable

from ..notify import Alert, Channel, ChannelConfigError, DeliveryAttempt, DeliveryResult, Notifier, channel_id
from ..notify import parse_channel
from .status import DeliveryStatus
from .store import BudgetStore, DeliveryProgress, StoredAlert

log = logging.getLogger(__name__)

FAILED_SHOWN_SECONDS = 7 * 86_400  # how long a delivery that gave up stays in the status


@dataclass(frozen=True)
class Round:
    """One round of attempts, claimed by this process."""

    stored: StoredAlert
    alert: Alert
    channel: Channel
    channel_id: str
    number: int
    last: bool  # the window ends before another round would be due


class AlertDeliveries:
    def __init__(self, notifier: Notifier, *, clock: Callable[[], float], claimant: str,
                 backoff_seconds: float = 60.0, max_backoff_seconds: float = 1800.0):
        self._notifier = notifier
        self._clock = clock
        self._claimant = claimant
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        # Successes this process could not record: not sent again from here.
        self._delivered_here: dict[tuple[str, str], None] = {}

    def due_rounds(self, store: BudgetStore) -> list[Round]:
        """Claim and return every round that is due now; store trouble means none this time."""
        now = self._clock()
        try:
            outstanding = list(self._outstanding(store, since=now))
        except Exception:
            log.warning("cannot read the alerts still to deliver; will retry", exc_info=True)
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
                log.warning("cannot claim delivery round %d of alert %s", number, stored.key, exc_info=True)
                continue
            if mine:
                last = now + self._backoff(number) >= stored.expires_at
                due.append(Round(stored, alert, channel, cid, number, last))
        return due

    def send(self, store: BudgetStore, rounds: list[Round]) -> list[DeliveryResult]:
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
                log.warning("cannot record the delivery of alert %s", attempt.alert_key, exc_info=True)
        return results

    def undelivered(self, store: BudgetStore) -> list[DeliveryStatus]:
        """Deliveries still pending, and those that gave up in the last week."""
        now = self._clock()
        found = []
        for stored, alert, _, channel, done in self._outstanding(store, since=now - FAILED_SHOWN_SECONDS):
            next_at = max(now, self._next_round_at(done)) if done else now
            if next_at >= stored.expires_at:  # no round left before the window ends
                next_at = None
            found.append(DeliveryStatus(
                alert_key=stored.key, budget_id=stored.budget_id, title=alert.title, channel=channel.type,
                target=channel.target(), state="failed" if next_at is None else "pending",
                rounds=done.last_round if done else 0, attempts=done.attempts if done else 0,
                last_attempt_at=done.last_attempt_at if done else None,
                last_error=done.last_error if done else "", next_attempt_at=next_at, gives_up_at=stored.expires_at))
        return found

    def _outstanding(self, store: BudgetStore, since: float):
        """(stored alert, alert, channel id, channel, progress or None) for every channel that
        has not had an alert whose retrying ends after `since`."""
        alerts = store.open_alerts(since)
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


def thresholds_of(alert: Alert) -> tuple[Decimal, ...]:
    """The thresholds a budget alert announces (none for an anomaly)."""
    return tuple(Decimal(t) for t in alert.payload.get("thresholds_crossed", ()))


def channels_json(channels) -> str:
    return json.dumps([c.to_dict() for c in channels], sort_keys=True)


def _parsed(stored: StoredAlert) -> tuple[Alert, dict[str, Channel]] | None:
    try:
        alert = Alert.from_json(stored.message)
        channels = {channel_id(c): c for c in map(parse_channel, json.loads(stored.channels))}
    except (ValueError, KeyError, TypeError, ChannelConfigError) as exc:
        log.warning("alert %s cannot be delivered: its stored message does not parse: %s", stored.key, exc)
        return None
    return alert, channels
