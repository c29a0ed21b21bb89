"""A cap on the bytes of requests in flight, shared by both receivers.

Each request holds its size (as sent, then decompressed) from the moment it is read until
the pipeline has logged it. A request that would pass the cap is refused with 503 and a
short Retry-After instead of being buffered: a flood or many slow clients cost a bounded
amount of memory, never an out-of-memory kill.
"""
from __future__ import annotations

import threading


class InflightBytes:
    def __init__(self, limit: int):
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    def try_acquire(self, n: int) -> bool:
        with self._lock:
            if self._used + n > self.limit and self._used > 0:
                return False  # one request alone may always use the whole cap
            self._used += n
            return True

    def release(self, n: int) -> None:
        with self._lock:
            self._used -= n
