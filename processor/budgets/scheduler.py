"""Inside `serve`: load the budget file, then reconcile spend and evaluate alerts every
interval, in a thread of its own. Store trouble is logged and retried: it never stops intake."""
from __future__ import annotations

import logging
import threading

from .service import BudgetService

log = logging.getLogger(__name__)


class BudgetScheduler:
    def __init__(self, budgets: BudgetService, *, budget_file: str | None, interval_s: float, metrics):
        self._budgets = budgets
        self._file = budget_file
        self._interval_s = interval_s
        self._metrics = metrics
        self._loaded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="llmledger-budgets", daemon=True)

    def load(self) -> bool:
        """Budgets known before the first span is taken, so the running totals miss nothing."""
        try:
            if self._file:
                self._budgets.sync_file(self._file)
            self._budgets.reconcile()
            self._loaded = True
        except Exception as exc:  # the store may be down: the loop keeps trying
            log.warning("cannot load budgets yet (%s); will retry", exc)
        return self._loaded

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            if not self._loaded:
                self.load()
                continue
            try:
                self._budgets.reconcile()
                self._budgets.evaluate()
                self._update_gauges()
            except Exception:  # the store may be down; the next round tries again
                log.warning("budget evaluation failed; will retry", exc_info=True)

    def _update_gauges(self) -> None:
        for status in self._budgets.status():
            budget_id = status.budget.id
            self._metrics.budget_spend.labels(budget_id).set(float(status.spend))
            self._metrics.budget_limit.labels(budget_id).set(float(status.budget.limit))
            self._metrics.budget_percent.labels(budget_id).set(float(status.percent))
