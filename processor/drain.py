"""Moves acknowledged records from the write-ahead log into ClickHouse.

One thread. It takes a run of log records, announces the range to the log (so that after
a crash the very same range is written again), inserts it with a token made of that range,
and commits. A replay therefore carries the same token and ClickHouse drops it: every
acknowledged span is stored exactly once, whenever the process dies.

While the store is unreachable it retries with backoff and jitter; receivers keep
accepting into the log until it is full. Records the store rejects for good go to a
dead-letter file with the reason, and the rest of the batch is written.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import time
from pathlib import Path
from typing import Callable

from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from .exporters.clickhouse import ClickHouseWriter, InsertFailed
from .pipeline import RowsHandoff, decode_batch, encode_batch
from .storage.client import StoreUnavailable
from .telemetry import ProcessorMetrics
from .wal import WriteAheadLog

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 10.0
_SMALL_BACKLOG = 20  # log records


class LogDrain:
    def __init__(self, *, log_: WriteAheadLog, open_writer: Callable[[], ClickHouseWriter], log_id: str,
                 metrics: ProcessorMetrics, dead_letter_path: Path, handoff: RowsHandoff | None = None,
                 batch_bytes: int = 16 << 20, flush_interval_s: float = 0.2):
        self._log = log_
        self._open_writer = open_writer
        self._writer: ClickHouseWriter | None = None
        self._log_id = log_id
        self._handoff = handoff
        self._metrics = metrics
        self._dead_letter_path = dead_letter_path
        self._batch_bytes = batch_bytes
        self._flush_interval_s = flush_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="llmledger-drain", daemon=True)
        self.store_ok = False  # the last attempt to use the store succeeded
        self.store_error = "not connected yet"

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is in the log (up to `timeout`), then stop."""
        deadline = time.monotonic() + timeout
        while self._log.lag_records and self.store_ok and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._thread.join(timeout=max(deadline - time.monotonic(), 1.0))

    def _run(self) -> None:
        pending = self._log.pending_batch()
        if pending is not None:
            log.info("replaying log records %d-%d left by the previous run", *pending)
            self._write_range(*pending)
        while not self._stop.is_set():
            committed = self._log.committed_seq
            if not self._log.wait_for_records(committed, timeout=0.5):
                self._update_gauges()
                continue
            if self._log.lag_records < _SMALL_BACKLOG:
                # Let a few requests gather: one big insert is far cheaper than many small ones.
                self._stop.wait(self._flush_interval_s)
            records = self._log.read(committed, max_records=100_000, max_bytes=self._batch_bytes)
            if records:
                self._write_range(records[0][0], records[-1][0], records)
            self._update_gauges()

    def _update_gauges(self) -> None:
        self._metrics.log_bytes.set(self._log.bytes_used)
        self._metrics.log_lag.set(self._log.lag_records)

    def _write_range(self, first: int, last: int, records: list[tuple[int, bytes]] | None = None) -> None:
        if records is None:
            records = self._log.read(first - 1, max_records=last - first + 1, max_bytes=1 << 62)
        self._log.begin_batch(first, last)
        token = f"{self._log_id}-{first}-{last}"
        try:
            try:
                self._retrying(lambda: self._insert(records, token))
            except _Rejected as rejected:
                self._write_one_by_one(records, token, rejected)
        except _Stopping:
            return  # the range stays pending; the next start writes it with the same token
        self._log.commit(last)
        if self._handoff is not None:
            self._handoff.done_through(last)

    def _retrying(self, insert: Callable[[], None]) -> None:
        """Run `insert` until it succeeds. Store outages are retried with backoff and jitter;
        a rejection of the data is raised as _Rejected, a stop as _Stopping."""
        attempt = 0
        while True:
            try:
                return insert()
            except InsertFailed as failed:
                if not _is_transient(failed.cause):
                    raise _Rejected(failed) from failed
                self._note_store_down(failed.cause)
            except (StoreUnavailable, OperationalError, DatabaseError, OSError) as exc:
                self._note_store_down(exc)  # opening the store or applying its schema failed
            if self._stop.is_set():
                raise _Stopping
            attempt += 1
            self._metrics.insert_retries.inc()
            delay = min(_MAX_BACKOFF_S, 0.2 * 2 ** min(attempt, 8))
            self._stop.wait(delay * random.uniform(0.5, 1.0))

    def _insert(self, records: list[tuple[int, bytes]], token: str, skip_traces: bool = False) -> None:
        if self._writer is None:
            self._writer = self._open_writer()
        trace_rows, llm_rows = [], []
        for seq, payload in records:
            rows = self._handoff.take(seq) if self._handoff is not None else None
            traces, calls = rows if rows is not None else decode_batch(payload)
            trace_rows += traces
            llm_rows += calls
        started = time.perf_counter()
        self._writer.write(trace_rows, llm_rows, token, skip_traces=skip_traces)
        self._metrics.insert_seconds.observe(time.perf_counter() - started)
        self._metrics.spans_stored.inc(len(trace_rows))
        self._metrics.llm_calls_stored.inc(len(llm_rows))
        self.store_ok, self.store_error = True, ""

    def _note_store_down(self, exc: Exception) -> None:
        if self.store_ok or self.store_error != str(exc):
            log.warning("ClickHouse unavailable, will retry: %s", exc)
        self.store_ok, self.store_error = False, str(exc)
        self._writer = None  # reconnect on the next attempt

    def _write_one_by_one(self, records: list[tuple[int, bytes]], token: str, rejected: _Rejected) -> None:
        """The store rejected the batch: write its records one at a time and set aside those it
        rejects. Trace rows the batch insert already stored (it failed at llm_spans) are not
        written again."""
        log.error("ClickHouse rejected a batch (%s); writing its records one by one", rejected.failed)
        skip_traces = rejected.failed.table == "llm_spans"
        for seq, payload in records:
            try:
                self._retrying(lambda: self._insert([(seq, payload)], f"{token}-{seq}", skip_traces))
            except _Rejected as own:
                self._dead_letter(seq, payload, own.failed)

    def _dead_letter(self, seq: int, payload: bytes, exc: Exception) -> None:
        self._metrics.dead_letters.inc()
        log.error("log record %d rejected by the store, moved to %s: %s", seq, self._dead_letter_path, exc)
        data = payload if isinstance(payload, bytes) else encode_batch(*payload)  # the in-memory log keeps rows
        entry = {"seq": seq, "reason": str(exc), "payload_hex": data.hex()}
        with open(self._dead_letter_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


class _Rejected(Exception):
    """The store refused the data itself (not an outage)."""

    def __init__(self, failed: InsertFailed):
        super().__init__(str(failed))
        self.failed = failed


class _Stopping(Exception):
    """The drain is asked to stop while the store is down."""


def _is_transient(exc: Exception) -> bool:
    """Errors that say the store is (temporarily) unable, not that the data is bad."""
    if isinstance(exc, (OperationalError, OSError, StoreUnavailable)):
        return True
    if not isinstance(exc, DatabaseError):
        return False
    text = str(exc)
    return any(marker in text for marker in ("TOO_MANY_PARTS", "MEMORY_LIMIT_EXCEEDED", "TIMEOUT", "NETWORK_ERROR",
                                             "Connection refused", "TABLE_IS_READ_ONLY", "UNKNOWN_TABLE",
                                             "UNKNOWN_DATABASE"))
