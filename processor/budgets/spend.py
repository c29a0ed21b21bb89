"""A budget's running spend in its current window, kept in memory for the throttle.

Spend sits in buckets keyed by their start (epoch seconds): one minute per bucket for
calls seen by this process, and whatever the store answered for the rest (one bucket at
the window's start for a calendar window, minutes for a rolling one). Leaving the window
drops buckets from the front, so reading the total is O(1) most of the time.
"""
from __future__ import annotations

import heapq
from decimal import Decimal
from typing import Mapping

from .model import Budget
from .windows import MINUTE, calendar_bounds, minute_of, rolling_start, whole_seconds_until

ZERO = Decimal(0)


class SpendCounter:
    __slots__ = ("_amounts", "_starts", "total")

    def __init__(self) -> None:
        self._amounts: dict[int, Decimal] = {}
        self._starts: list[int] = []  # a heap of the keys of _amounts
        self.total = ZERO

    def add(self, start: int, amount: Decimal) -> None:
        if start in self._amounts:
            self._amounts[start] += amount
        else:
            self._amounts[start] = amount
            heapq.heappush(self._starts, start)
        self.total += amount

    def drop_before(self, cutoff: int) -> None:
        while self._starts and self._starts[0] < cutoff:
            self.total -= self._amounts.pop(heapq.heappop(self._starts))

    def replace_before(self, watermark: int, stored: Mapping[int, Decimal]) -> None:
        """Forget the buckets before `watermark` and put the store's in their place."""
        kept = {start: amount for start, amount in self._amounts.items() if start >= watermark}
        self._amounts, self._starts, self.total = {}, [], ZERO
        for start, amount in list(stored.items()) + list(kept.items()):
            self.add(start, amount)

    def buckets(self) -> list[tuple[int, Decimal]]:
        return sorted(self._amounts.items())


class BudgetTracker:
    """One budget's window and spend. Not thread-safe: the budget service holds a lock."""

    __slots__ = ("budget", "counter", "start", "end")

    def __init__(self, budget: Budget):
        self.budget = budget
        self.counter = SpendCounter()
        self.start = 0
        self.end: int | None = None  # None for a rolling window, which never resets

    def roll(self, now: float) -> None:
        """Move to the window that contains `now`, dropping spend that left it."""
        window = self.budget.window
        if window.is_rolling:
            self.start = rolling_start(window.rolling_seconds, now)
        elif self.end is None or not self.start <= now < self.end:
            self.start, self.end = calendar_bounds(window.kind, window.timezone, now)
        self.counter.drop_before(self.start)

    def spend(self, now: float) -> Decimal:
        self.roll(now)
        return self.counter.total

    def add(self, timestamp: float, amount: Decimal, now: float) -> None:
        self.roll(now)
        if timestamp >= self.start:  # a late call of an earlier window does not count now
            self.counter.add(minute_of(min(timestamp, now)), amount)

    def seconds_until_below_limit(self, now: float) -> int:
        """How long until this budget allows calls again if nothing more is spent: the window's
        reset, or for a rolling window, the time the oldest spend slides out far enough."""
        self.roll(now)
        if self.end is not None:
            return whole_seconds_until(self.end, now)
        limit, total = self.budget.limit, self.counter.total
        length = self.budget.window.rolling_seconds
        for start, amount in self.counter.buckets():
            total -= amount
            if total < limit:
                return whole_seconds_until(start + MINUTE + length, now)
        return whole_seconds_until(now + length, now)
