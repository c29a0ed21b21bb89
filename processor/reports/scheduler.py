"""Inside `serve`: send each scheduled report once per period, in a thread of its own.

Every pass (each `interval_s`) looks at each schedule's latest due period. A report not
claimed yet is built, rendered and claimed in the store's outbox with its message and
channels (one claim per schedule and period, so N replicas and restarts send it once);
then the outbox sends the rounds that are due, retrying a failed channel with backoff
until the next report of the schedule is due. Store trouble is logged and retried.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable, Iterable

from ..analytics import runner_for_client
from ..notify import DeliveryResult, Notifier
from ..notify.outbox import Outbox, OutboxStore, channels_json
from ..pricing import Pricer
from .build import ReportSettings, build_report
from .delivery import report_message
from .schedule import ReportSchedule

log = logging.getLogger(__name__)

REPORT_KINDS = ("report",)


@dataclass(frozen=True)
class SentReport:
    """A report this process claimed (or, with `retry`, one it delivered again) and how it went."""

    schedule_id: str
    key: str
    title: str
    deliveries: tuple[DeliveryResult, ...]
    retry: bool = False

    def to_dict(self) -> dict:
        return {"schedule": self.schedule_id, "key": self.key, "title": self.title, "retry": self.retry,
                "deliveries": [{"channel": d.channel, "target": d.target, "ok": d.ok, "attempts": d.attempts,
                                "status": d.status, "error": d.error} for d in self.deliveries]}


class ReportScheduler:
    """`client_factory()` gives a clickhouse-connect client; `settings()` the report settings
    of the moment (the pages' address is known once the service listens)."""

    def __init__(self, schedules: Iterable[ReportSchedule], *, client_factory: Callable[[], object],
                 notifier: Notifier, pricer: Pricer, settings: Callable[[], ReportSettings] = ReportSettings,
                 clock: Callable[[], float] = time.time, instance_id: str | None = None, interval_s: float = 60.0,
                 retry_backoff_seconds: float = 60.0, max_retry_backoff_seconds: float = 1800.0):
        self.schedules = tuple(schedules)
        self._client_factory = client_factory
        self._client = None
        self._pricer = pricer
        self._settings = settings
        self._clock = clock
        self.instance_id = instance_id or f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self._outbox = Outbox(notifier, kinds=REPORT_KINDS, clock=clock, claimant=self.instance_id,
                              backoff_seconds=retry_backoff_seconds, max_backoff_seconds=max_retry_backoff_seconds)
        self._interval_s = interval_s
        self._settled: set[str] = set()  # keys claimed here or found claimed: never built again
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="llmledger-reports", daemon=True)

    def run_once(self) -> list[SentReport]:
        """Claim the reports that are due and send the delivery rounds that are due."""
        with self._lock:
            store = OutboxStore(self._store_client())
            claimed = {}
            for schedule in self.schedules:
                key = self._claim_due(store, schedule)
                if key:
                    claimed[key] = schedule.id
            rounds = self._outbox.due_rounds(store)
            results = self._outbox.send(store, rounds)
            sent: dict[str, SentReport] = {}
            for round_ in rounds:
                key = round_.alert.key
                if key not in sent:
                    sent[key] = SentReport(round_.stored.budget_id, key, round_.alert.title,
                                           tuple(r for r in results if r.alert_key == key), retry=key not in claimed)
            return list(sent.values())

    def undelivered(self):
        """Report deliveries still pending, and those that gave up in the last week."""
        return self._outbox.undelivered(OutboxStore(self._store_client()))

    def _claim_due(self, store: OutboxStore, schedule: ReportSchedule) -> str | None:
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        period, _, next_due = schedule.due(now)
        key = schedule.key(period)
        if key in self._settled:
            return None
        try:
            if store.claimant_of(key) is not None:  # another replica (or an earlier run) has it
                self._settled.add(key)
                return None
            report = build_report(runner_for_client(self._store_client()), period, schedule.scope,
                                  pricer=self._pricer, settings=self._settings(), now=now)
            message = report_message(report, key)
            won = store.claim(dedup_key=key, kind="report", owner=schedule.id, window_start=period.start.timestamp(),
                              title=report.title, claimant=self.instance_id, now=self._clock(),
                              message=message.to_json(), channels=channels_json(schedule.channels),
                              expires_at=next_due.timestamp(), spend=report.headline.cost or Decimal(0))
        except Exception:  # the store may be down: the next pass tries again
            log.warning("cannot build or claim report %s", key, exc_info=True)
            return None
        self._settled.add(key)
        return key if won else None

    def _store_client(self):
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    # --- in serve -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                for sent in self.run_once():
                    failed = [d for d in sent.deliveries if not d.ok]
                    if failed:
                        log.warning("report %s: %d of %d deliveries failed; will retry", sent.key, len(failed),
                                    len(sent.deliveries))
            except Exception:
                log.warning("sending reports failed; will retry", exc_info=True)
