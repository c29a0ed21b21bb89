"""A cap on the memory that requests in flight hold, shared by both receivers.

Each request holds its size (as sent, then decompressed) from the moment it is read until
the pipeline has logged it, counted at EXPANSION times its bytes: decoded, normalized and
priced, an OTLP request takes about 15 times its wire size in Python objects (measured on
a 3 MiB request of LLM spans). A request that would pass the cap is refused with 503 and
a short Retry-After instead of being taken: a flood or many slow clients cost a bounded
amount of memory, never an out-of-memory kill.
"""
from __future__ import annotations

import threading


EXPANSION = 16


class InflightBytes:
    def __init__(self, limit: int, expansion: int = EXPANSION):
        self.limit = limit
        self._expansion = expansion
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    def try_acquire(self, n: int) -> bool:
        """Take room for a request of `n` bytes (release the same `n` when done)."""
        n *= self._expansion
        with self._lock:
            if self._used + n > self.limit and self._used > 0:
                return False  # one request alone may always use the whole cap
            self._used += n
            return True

    def release(self, n: int) -> None:
        n *= self._expansion
        with self._lock:
            self._used -= n
