"""The log's interface with no disk behind it (`wal.enabled: false`).

For measuring what the write-ahead log costs (`benchmarks/ingest.py --no-log`), and for
users who would rather lose acknowledged spans in a crash than pay for the log: nothing
here survives the process. Records are the priced rows themselves, never encoded.
"""
from __future__ import annotations

import threading
from collections import deque

from .log import LogFull
from .payload import row_count
from .recovery import RecoveryReport

_ROW_BYTES = 2000  # rough memory of one row, for the bound


class MemoryLog:
    persistent = False  # the pipeline hands over rows, not encoded bytes

    def __init__(self, *, max_bytes: int):
        self._max_bytes = max_bytes
        self._records: deque[tuple[int, object, int]] = deque()
        self._cond = threading.Condition()
        self._last = 0
        self._committed = 0
        self._bytes = 0
        self.recovery = RecoveryReport(segments=0, records=0, replayable_records=0, committed_seq=0,
                                       pending_batch=None)

    def append(self, payload: dict[str, list[list]]) -> int:
        size = (row_count(payload) + 1) * _ROW_BYTES
        with self._cond:
            if self._bytes + size > self._max_bytes:
                raise LogFull(f"the in-memory log holds {self._bytes} bytes, its bound is {self._max_bytes}")
            self._last += 1
            self._records.append((self._last, payload, size))
            self._bytes += size
            self._cond.notify_all()
            return self._last

    def read(self, after_seq: int, max_records: int, max_bytes: int) -> list[tuple[int, object]]:
        with self._cond:
            out, size = [], 0
            for seq, payload, record_bytes in self._records:
                if seq <= after_seq:
                    continue
                if out and (len(out) >= max_records or size + record_bytes > max_bytes):
                    break
                out.append((seq, payload))
                size += record_bytes
            return out

    def wait_for_records(self, after_seq: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._last > after_seq, timeout=timeout)

    def begin_batch(self, first_seq: int, last_seq: int) -> None:
        pass  # nothing to replay after a crash

    def pending_batch(self) -> None:
        return None

    def commit(self, last_seq: int) -> None:
        with self._cond:
            while self._records and self._records[0][0] <= last_seq:
                self._bytes -= self._records.popleft()[2]
            self._committed = max(self._committed, last_seq)

    @property
    def committed_seq(self) -> int:
        return self._committed

    @property
    def last_seq(self) -> int:
        return self._last

    @property
    def bytes_used(self) -> int:
        return self._bytes

    @property
    def lag_records(self) -> int:
        return self._last - self._committed

    def close(self) -> None:
        pass
