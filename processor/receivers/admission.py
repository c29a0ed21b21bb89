"""Caps on what requests in flight hold: their memory, shared by both receivers, and for
gRPC the number of requests being read at once.

Each request holds its size (as sent, then decompressed) from the moment it is read until
the pipeline has logged it, counted at EXPANSION times its bytes: decoded, normalized and
priced, an OTLP request takes about 15 times its wire size in Python objects (measured on
a 3 MiB request of LLM spans). A request that would pass the cap is refused with 503 and
a short Retry-After instead of being taken: a flood or many slow clients cost a bounded
amount of memory, never an out-of-memory kill.
"""
from __future__ import annotations

import threading

import anyio


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


class RequestSlots:
    """At most `limit` requests at once; one more waits up to `wait_s` for a slot, then is
    refused. Used on the event loop.

    gRPC reads a whole message before the handler sees its size, so the byte cap alone would
    let a flood of big messages into memory first and refuse them after. A slot is taken
    before the message is read: at most `limit` messages are buffered at once, and a request
    that is taken shares the CPU with at most `limit - 1` others, so its answer comes in
    bounded time instead of after every other client's."""

    def __init__(self, limit: int, wait_s: float = 0.5):
        self.limit = limit
        self._wait_s = wait_s
        self._semaphore: anyio.Semaphore | None = None

    async def acquire(self) -> bool:
        if self._semaphore is None:
            self._semaphore = anyio.Semaphore(self.limit)
        try:
            self._semaphore.acquire_nowait()
            return True
        except anyio.WouldBlock:
            pass
        with anyio.move_on_after(self._wait_s):
            await self._semaphore.acquire()
            return True
        return False

    def release(self) -> None:
        self._semaphore.release()
