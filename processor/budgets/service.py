"""The budget service: budgets from the store, running spend in memory, alerts and the throttle.

How spend is counted. Every call the pipeline accepts goes through `observe`, which adds
its cost to the running total of each budget it falls under, in minute buckets by the
call's own timestamp. `reconcile` (every ~30 s) re-reads from ClickHouse the spend of each
window up to a watermark `settle_seconds` in the past and replaces the buckets before the
watermark with it; the buckets after it stay as observed. So the store counts what other
replicas took in, and nothing is counted twice. A call this process did not see (another
replica's) counts once it is older than the watermark: enforcement lags ingestion by
seconds to about a minute, and a check never waits for the store.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from ..notify import Alert, Channel, DeliveryResult, Notifier
from ..notify.outbox import Outbox, channels_json
from ..record import LlmCall
from .alerts import ALERT_KINDS, alert_key, budget_alert, thresholds_of
from .budget_file import BudgetFile, load_budget_file
from .decision import Decision, decide
from .model import Budget, money_text
from .spend import BudgetTracker
from ..notify.outbox import DeliveryStatus
from .status import BudgetStatus, budget_status
from .store import BudgetStore
from .windows import alert_period_start, minute_of

log = logging.getLogger(__name__)

# The attribute of a call that each scope compares ("tag:<name>" reads the tags).
_CALL_FIELDS = (("app", "app"), ("team", "team"), ("user", "user_id"), ("model", "model"),
                ("provider", "provider"), ("environment", "environment"), ("feature", "feature"),
                ("tenant", "tenant"))
_ALL = ("all", "")  # (scope, value) of a budget on all calls
ANOMALY_DELIVERY_SECONDS = 86_400  # how long an anomaly alert is retried


@dataclass(frozen=True)
class FiredAlert:
    """An alert this evaluator won the claim for (or, with `retry`, one claimed earlier that
    it delivered again), and what became of its deliveries."""

    key: str
    kind: str
    budget_id: str
    thresholds: tuple[Decimal, ...]
    title: str
    deliveries: tuple[DeliveryResult, ...] = ()
    retry: bool = False

    def to_dict(self) -> dict:
        return {"key": self.key, "kind": self.kind, "budget_id": self.budget_id or None,
                "thresholds": [money_text(t) for t in self.thresholds], "title": self.title, "retry": self.retry,
                "deliveries": [{"channel": d.channel, "target": d.target, "ok": d.ok, "attempts": d.attempts,
                                "status": d.status, "error": d.error} for d in self.deliveries]}


@dataclass
class _AlertedInPeriod:
    period_start: int
    highest: Decimal | None = None  # the highest threshold alerted in the period
    looked_up: bool = False  # whether `highest` was read from the store yet


class BudgetService:
    """Budgets for one processor (or a CLI command). Thread-safe.

    `client_factory()` returns a clickhouse-connect client; each thread that talks to the
    store gets its own. `anomalies()`, if given, returns anomaly alerts (`Alert`s whose key
    is stable for one anomaly) to send to `anomaly_channels`. `settle_seconds=0` trusts the
    store alone: for commands that do not observe calls. A delivery that fails is tried
    again at later evaluations, `retry_backoff_seconds` after the first failed round and
    twice as long after each further one (see notify/outbox.py)."""

    def __init__(self, client_factory: Callable[[], object], *, notifier: Notifier | None = None,
                 clock: Callable[[], float] = time.time, anomalies: Callable[[], Iterable[Alert]] | None = None,
                 anomaly_channels: Sequence[Channel] = (), settle_seconds: float = 60.0,
                 instance_id: str | None = None, retry_backoff_seconds: float = 60.0,
                 max_retry_backoff_seconds: float = 1800.0):
        self._client_factory = client_factory
        self._notifier = notifier or Notifier()
        self._clock = clock
        self._anomalies = anomalies
        self.anomaly_channels: tuple[Channel, ...] = tuple(anomaly_channels)
        self._settle = settle_seconds
        self.instance_id = instance_id or f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self._deliveries = Outbox(self._notifier, kinds=ALERT_KINDS, clock=clock, claimant=self.instance_id,
                                  backoff_seconds=retry_backoff_seconds,
                                  max_backoff_seconds=max_retry_backoff_seconds)
        self._local = threading.local()
        self._lock = threading.Lock()  # guards the trackers and indexes
        self._evaluating = threading.Lock()  # one evaluation at a time in this process
        self._trackers: dict[str, BudgetTracker] = {}
        # (scope, value, tenant qualifier) -> the trackers of the budgets on it
        self._by_scope: dict[tuple[str, str, str], list[BudgetTracker]] = {}
        self._hard_by_scope: dict[tuple[str, str, str], list[BudgetTracker]] = {}
        self._tag_names: tuple[str, ...] = ()
        self._watermark = 0
        self._reconciled = False
        self._alerted: dict[str, _AlertedInPeriod] = {}
        self._anomalies_seen: dict[str, None] = {}

    @property
    def notifier(self) -> Notifier:
        """The notifier alerts go out through (with the budget file's SMTP server once synced)."""
        return self._notifier

    # --- budgets ----------------------------------------------------------------------------

    def sync_file(self, path: str | Path) -> BudgetFile:
        """Upsert the file's budgets into the store; budgets an earlier file put there and this
        one no longer has are deleted (budgets set from the CLI stay). Also takes the file's
        SMTP server and anomaly channels. Raises BudgetFileError for a bad file."""
        budget_file = load_budget_file(path)
        if budget_file.smtp is not None:
            self._notifier.smtp = budget_file.smtp.over(self._notifier.smtp)
        if budget_file.anomaly_channels:
            self.anomaly_channels = budget_file.anomaly_channels
        store = self._store()
        stored = {b.id: b for b in store.load()}
        sources = store.sources()
        changed = [b for b in budget_file.budgets if stored.get(b.id) != b or sources.get(b.id) != "file"]
        store.upsert(changed, source="file", now=time.time())
        in_file = {b.id for b in budget_file.budgets}
        store.delete([i for i, source in sources.items() if source == "file" and i not in in_file], now=time.time())
        self.reconcile()
        return budget_file

    def set_budgets(self, budgets: Iterable[Budget], *, source: str = "cli") -> list[str]:
        budgets = list(budgets)
        self._store().upsert(budgets, source=source, now=time.time())
        self.reconcile()
        return [b.id for b in budgets]

    def delete_budgets(self, budget_ids: Iterable[str]) -> list[str]:
        """Returns the ids that existed and are now gone."""
        deleted = self._store().delete(budget_ids, now=time.time())
        self.reconcile()
        return deleted

    def budgets(self) -> list[Budget]:
        with self._lock:
            return [tracker.budget for tracker in self._trackers.values()]

    # --- spend ------------------------------------------------------------------------------

    def observe(self, calls: Iterable[LlmCall]) -> None:
        """Count accepted calls in the running totals. Cheap: no I/O."""
        self._count(calls, 1)

    def retract(self, calls: Iterable[LlmCall]) -> None:
        """Take back what `observe` counted for calls that a better span of them replaced
        (the store cancels them); the next reconcile reads the same from the store."""
        self._count(calls, -1)

    def _count(self, calls: Iterable[LlmCall], sign: int) -> None:
        now = self._clock()
        with self._lock:
            if not self._trackers:
                return
            for call in calls:
                if not call.cost:  # unpriced or free
                    continue
                timestamp = call.timestamp_ns / 1e9
                amount = call.cost if sign > 0 else -call.cost
                for key in self._scope_keys(call):
                    for tracker in self._by_scope.get(key, ()):
                        tracker.add(timestamp, amount, now)

    def reconcile(self) -> None:
        """Reload the budgets and re-read each window's spend up to the watermark from the store."""
        store = self._store()
        self._load_budgets(store.load())
        now = self._clock()
        watermark = self._next_watermark(now)
        with self._lock:
            trackers = list(self._trackers.values())
            for tracker in trackers:
                tracker.roll(now)
            starts = {id(tracker): tracker.start for tracker in trackers}
        stored = self._read_spend(store, trackers, starts, watermark)
        with self._lock:
            for tracker in trackers:
                rolled = tracker.end is not None and tracker.start != starts[id(tracker)]
                if not rolled:  # a calendar window that reset meanwhile is read next time
                    tracker.counter.replace_before(watermark, stored.get(id(tracker), {}))
            self._watermark = watermark
            self._reconciled = True

    def _next_watermark(self, now: float) -> int:
        if self._settle <= 0:
            return int(now) + 1  # everything up to now comes from the store
        if not self._reconciled:
            return minute_of(now)  # after a start, the store has all but this minute
        # Never backwards: what an earlier pass read from the store stays counted.
        return max(self._watermark, minute_of(now - self._settle))

    def _read_spend(self, store: BudgetStore, trackers: list[BudgetTracker], starts: dict[int, int],
                    watermark: int) -> dict[int, dict[int, Decimal]]:
        """Spend before the watermark for each tracker, one query per scope and window start."""
        groups: dict[tuple[str, str, bool, int], list[BudgetTracker]] = {}
        for tracker in trackers:
            budget = tracker.budget
            key = (budget.scope, budget.tenant, budget.window.is_rolling, starts[id(tracker)])
            groups.setdefault(key, []).append(tracker)
        found: dict[int, dict[int, Decimal]] = {}
        for (scope, tenant, rolling, start), members in groups.items():
            tag = members[0].budget.tag_name
            values = sorted({m.budget.value for m in members})
            if rolling:
                by_value = store.spend_by_minute(scope, tag, tenant, values, start, watermark)
                for member in members:
                    found[id(member)] = by_value.get(member.budget.value, {})
            else:
                spend = store.spend_in_range(scope, tag, tenant, values, start, watermark)
                for member in members:
                    amount = spend.get(member.budget.value)
                    found[id(member)] = {start: amount} if amount else {}
        return found

    def _load_budgets(self, budgets: list[Budget]) -> None:
        with self._lock:
            trackers: dict[str, BudgetTracker] = {}
            for budget in budgets:
                tracker = self._trackers.get(budget.id)
                if tracker is not None and tracker.budget.counts_like(budget):
                    tracker.budget = budget  # same calls, same window: the spend carries over
                else:
                    tracker = BudgetTracker(budget)
                trackers[budget.id] = tracker
            self._trackers = trackers
            self._by_scope, self._hard_by_scope = {}, {}
            for tracker in trackers.values():
                key = (tracker.budget.scope, tracker.budget.value, tracker.budget.tenant)
                self._by_scope.setdefault(key, []).append(tracker)
                if tracker.budget.hard:
                    self._hard_by_scope.setdefault(key, []).append(tracker)
            self._tag_names = tuple(sorted({t.budget.tag_name for t in trackers.values() if t.budget.tag_name}))

    def _scope_keys(self, call: LlmCall) -> list[tuple[str, str, str]]:
        return self._index_keys([(scope, value) for scope, attribute in _CALL_FIELDS
                                 if (value := getattr(call, attribute))],
                                {name: value for name in self._tag_names if (value := call.tags.get(name))},
                                call.tenant)

    @staticmethod
    def _index_keys(given: Iterable[tuple[str, str]], tags: Mapping[str, str], tenant: str
                    ) -> list[tuple[str, str, str]]:
        """The (scope, value, tenant) keys of the budgets a call with these attributes counts in:
        the budgets on every tenant, and those of its own tenant."""
        scopes = [(scope, value) for scope, value in given if value]
        scopes += [_ALL] + [(f"tag:{name}", value) for name, value in tags.items()]
        tenants = ("", tenant) if tenant else ("",)
        return [(scope, value, qualifier) for scope, value in scopes for qualifier in tenants]

    # --- the throttle ------------------------------------------------------------------------

    def check(self, *, app: str = "", user: str = "", model: str = "", team: str = "", environment: str = "",
              provider: str = "", feature: str = "", tenant: str = "",
              tags: Mapping[str, str] | None = None, shown: Callable[[Budget], bool] | None = None) -> Decision:
        """Allow, deny or degrade a call with these attributes, from memory alone. Every budget
        the call counts in may decide; an allowed call is answered with the budget that has the
        least left among those `shown` (default: all)."""
        given = (("app", app), ("user", user), ("model", model), ("team", team), ("environment", environment),
                 ("provider", provider), ("feature", feature), ("tenant", tenant))
        keys = self._index_keys(given, tags or {}, tenant)
        now = self._clock()
        with self._lock:
            return decide([t for key in keys for t in self._hard_by_scope.get(key, ())], now, shown)

    def status(self) -> list[BudgetStatus]:
        now = self._clock()
        with self._lock:
            return [budget_status(t.budget, t.start, t.end, t.spend(now), now)
                    for t in sorted(self._trackers.values(), key=lambda t: t.budget.id)]

    def undelivered(self) -> list[DeliveryStatus]:
        """Alerts a channel has not received yet (pending) or gave up on this past week (failed)."""
        return self._deliveries.undelivered(self._store())

    # --- alerts -----------------------------------------------------------------------------

    def evaluate(self) -> list[FiredAlert]:
        """Send the alerts that are due: each threshold once per window per budget (claimed in
        the store, so other evaluators and later runs do not repeat it), new anomalies, and
        the rounds due of deliveries that failed before (also another process's)."""
        with self._evaluating:
            if not self._reconciled:
                self.reconcile()
            store = self._store()
            now = self._clock()
            fired: dict[str, FiredAlert] = {}
            for status in self.status():
                alert = self._claim_thresholds(store, status, now)
                if alert is not None:
                    fired[alert.key] = FiredAlert(alert.key, alert.kind, status.budget.id, thresholds_of(alert),
                                                  alert.title)
            for alert in self._due_anomalies(store, now):
                fired[alert.key] = FiredAlert(alert.key, alert.kind, "", (), alert.title)
            rounds = self._deliveries.due_rounds(store)  # the first round of the alerts above too
            for round_ in rounds:
                if round_.alert.key not in fired:
                    fired[round_.alert.key] = FiredAlert(round_.alert.key, round_.alert.kind, round_.stored.budget_id,
                                                         thresholds_of(round_.alert), round_.alert.title, retry=True)
            results = self._deliveries.send(store, rounds)
            return [_with_results(alert, results) for alert in fired.values()]

    def _claim_thresholds(self, store: BudgetStore, status: BudgetStatus, now: float) -> Alert | None:
        """The alert for the thresholds crossed since the last one in this window, if this
        evaluator won its claim. One claim per message, keyed by its highest threshold: a
        threshold counts as alerted once any alert of its window reached it."""
        budget = status.budget
        crossed = [t for t in budget.thresholds if status.spend >= budget.limit * t]
        if not crossed:
            return None
        period = alert_period_start(budget.window, now)
        done = self._alerted.get(budget.id)
        if done is None or done.period_start != period:
            done = self._alerted[budget.id] = _AlertedInPeriod(period)
        top = max(crossed)
        key = alert_key(budget.id, period, top)
        try:
            if not done.looked_up:  # after a start, or in a new window: what the store knows
                done.highest, done.looked_up = store.highest_alerted(budget.id, period), True
            if done.highest is not None and top <= done.highest:
                return None
            new = sorted((t for t in crossed if done.highest is None or t > done.highest), reverse=True)
            alert = budget_alert(status, new, key)
            won = store.claim_alert(dedup_key=key, kind="budget_threshold", budget_id=budget.id, window_start=period,
                                    threshold=top, spend=status.spend, limit=budget.limit,
                                    title=f"{budget.id} crossed {money_text(top)}", claimant=self.instance_id,
                                    now=time.time(), message=alert.to_json(), channels=channels_json(budget.channels),
                                    expires_at=_window_end(status, period))
        except Exception:  # the store is down: try again at the next evaluation
            log.warning("cannot claim alert %s", key, exc_info=True)
            return None
        done.highest = top
        return alert if won else None

    def _due_anomalies(self, store: BudgetStore, now: float) -> list[Alert]:
        if self._anomalies is None:
            return []
        try:
            found = list(self._anomalies())
        except Exception:
            log.warning("anomaly detection failed", exc_info=True)
            return []
        due = []
        for alert in found:
            if alert.key in self._anomalies_seen:
                continue
            try:
                won = store.claim_alert(dedup_key=alert.key, kind="anomaly", budget_id="", window_start=int(now),
                                        threshold=Decimal(0), spend=Decimal(0), limit=Decimal(0), title=alert.title,
                                        claimant=self.instance_id, now=time.time(), message=alert.to_json(),
                                        channels=channels_json(self.anomaly_channels),
                                        expires_at=now + ANOMALY_DELIVERY_SECONDS)
            except Exception:
                log.warning("cannot claim alert %s", alert.key, exc_info=True)
                continue
            self._anomalies_seen[alert.key] = None
            if won:
                due.append(alert)
        while len(self._anomalies_seen) > 100_000:  # forget the oldest; the store still remembers
            del self._anomalies_seen[next(iter(self._anomalies_seen))]
        return due

    # --- the store ----------------------------------------------------------------------------

    def _store(self) -> BudgetStore:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._client_factory()
        return BudgetStore(client)


def _with_results(alert: FiredAlert, results: list[DeliveryResult]) -> FiredAlert:
    return replace(alert, deliveries=tuple(r for r in results if r.alert_key == alert.key))


def _window_end(status: BudgetStatus, period: int) -> float:
    """Where retrying an alert of this window stops: the calendar window's end, or the end of
    the rolling window's alert period."""
    if status.window_end is not None:
        return status.window_end
    return period + status.budget.window.rolling_seconds
