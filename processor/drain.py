"""Moves acknowledged records from the write-ahead log into ClickHouse.

A record is rows by table (`wal.payload`) of any signal: priced spans, metric points, log
records. The drain does not care which; a batch of records is written table by table.

One thread. It takes a run of log records, announces the range to the log (so that after
a crash the very same range is written again), inserts it with a token made of that range,
and commits. A replay therefore carries the same token and ClickHouse drops it: every
acknowledged span is stored exactly once, whenever the process dies.

Nothing stops it for good:
- The store unable to take rows (down, disk full, too many parts, a table being repaired:
  everything but a rejection of the data, see `storage.client.is_data_rejection`) and the
  data directory unable to take the log's checkpoint or a dead-letter entry (disk full) are
  retried with backoff and jitter. Meanwhile the drain is *stalled*: /readyz says not ready
  and why, `llmledger_drain_stalled` is 1, and one line is logged when it starts and one
  when it ends. Receivers keep accepting into the log until it is full.
- Rows the store rejects for what they hold: the batch is written again record by record,
  and the records it rejects go to the dead-letter file (see `dead_letters`).
- Anything else going wrong in here is logged with its traceback, counted
  (`llmledger_drain_crashes_total`), and the drain starts over from the log's checkpoint.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable, TypeVar

from clickhouse_connect.driver.exceptions import DatabaseError

from .dead_letters import DeadLetters, SplitBatch
from .exporters.clickhouse import REPLACED_CALLS, ClickHouseWriter, InsertFailed, tables_before
from .pipeline import RowsHandoff
from .storage.client import StoreUnavailable, is_data_rejection
from .telemetry import ProcessorMetrics
from .wal import Rows, WriteAheadLog, decode_rows, encode_rows

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 10.0
_SMALL_BACKLOG = 20  # log records
_PING_AFTER_IDLE_S = 5.0  # an idle drain checks the store this often, so that /readyz tells the truth

T = TypeVar("T")
Record = tuple[int, Rows]  # (log seq, its rows by table)


class LogDrain:
    def __init__(self, *, log_: WriteAheadLog, open_writer: Callable[[], ClickHouseWriter], log_id: str,
                 metrics: ProcessorMetrics, dead_letters: DeadLetters, handoff: RowsHandoff | None = None,
                 batch_bytes: int = 16 << 20, flush_interval_s: float = 0.2):
        self._log = log_
        self._open_writer = open_writer
        self._writer: ClickHouseWriter | None = None
        self._log_id = log_id
        self._handoff = handoff
        self._metrics = metrics
        self._dead_letters = dead_letters
        self._batch_bytes = batch_bytes
        self._flush_interval_s = flush_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="llmledger-drain", daemon=True)
        # Stalled until the store is open: not ready before the drain can make progress.
        self.problem = "opening the store"  # why the drain cannot make progress, "" while it can
        self._stalled_since: float | None = time.monotonic()
        self._announced = False  # the stall's first line is logged
        self._last_crash = ""
        self._last_contact = 0.0
        metrics.drain_stalled.set(1)

    @property
    def stalled(self) -> bool:
        return self._stalled_since is not None

    @property
    def stalled_seconds(self) -> float:
        since = self._stalled_since
        return 0.0 if since is None else time.monotonic() - since

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is in the log (up to `timeout`, unless stalled), then stop."""
        deadline = time.monotonic() + timeout
        while self._log.lag_records and not self.stalled and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._thread.join(timeout=max(deadline - time.monotonic(), 1.0))

    # --- the loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._drain()
                return
            except _Stopping:
                return
            except Exception as exc:  # a bug or an unforeseen failure: never the end of storing
                attempt += 1
                self._crashed(exc)
                self._backoff(attempt)

    def _drain(self) -> None:
        self._until_done(self._ensure_writer, "cannot open the store")
        pending = self._log.pending_batch()
        if pending is not None:
            log.info("writing log records %d-%d again: their batch was begun, not finished", *pending)
            self._write_range(*pending)
        while not self._stop.is_set():
            committed = self._log.committed_seq
            if not self._log.wait_for_records(committed, timeout=0.5):
                self._update_gauges()
                if time.monotonic() - self._last_contact > _PING_AFTER_IDLE_S:
                    self._until_done(self._ping, "the store does not answer")
                continue
            if self._log.lag_records < _SMALL_BACKLOG:
                # Let a few requests gather: one big insert is far cheaper than many small ones.
                self._stop.wait(self._flush_interval_s)
            records = self._log.read(committed, max_records=100_000, max_bytes=self._batch_bytes)
            if records:
                self._write_range(records[0][0], records[-1][0], records)
            self._update_gauges()

    def _write_range(self, first: int, last: int, records: list[tuple[int, bytes]] | None = None) -> None:
        if records is None:
            records = self._log.read(first - 1, max_records=last - first + 1, max_bytes=1 << 62)
        rows = [(seq, self._rows_of(seq, payload)) for seq, payload in records]
        self._until_done(lambda: self._log.begin_batch(first, last), "cannot write the log's checkpoint")
        token = f"{self._log_id}-{first}-{last}"
        split = self._dead_letters.split_of(self._log_id, first, last)  # begun before a crash
        if split is None:
            try:
                self._until_done(lambda: self._insert(rows, token), "cannot store")
            except _Rejected as rejected:
                log.error("ClickHouse rejected a batch (%s); writing its records one by one", rejected.failed)
                split = SplitBatch(self._log_id, first, last, stored=tables_before(rejected.failed.table))
                self._until_done(lambda: self._dead_letters.begin_split(split),
                                 "cannot write the dead-letter file's marker")
        if split is not None:
            self._write_one_by_one(rows, token, split)
        self._until_done(lambda: self._log.commit(last), "cannot write the log's checkpoint")
        if split is not None:
            self._dead_letters.end_split()
        if self._handoff is not None:
            self._handoff.done_through(last)

    def _rows_of(self, seq: int, payload) -> Rows:
        tables = self._handoff.take(seq) if self._handoff is not None else None
        return tables if tables is not None else decode_rows(payload)

    def _insert(self, records: list[Record], token: str, skip: frozenset[str] = frozenset()) -> None:
        self._ensure_writer()
        batch: Rows = {}
        for _, tables in records:
            for table, rows in tables.items():
                if table not in skip:
                    batch.setdefault(table, []).extend(rows)
        started = time.perf_counter()
        self._writer.write_tables(batch, token)
        self._metrics.insert_seconds.observe(time.perf_counter() - started)
        self._count_stored(batch)

    def _count_stored(self, batch: Rows) -> None:
        metrics = self._metrics
        for table, rows in batch.items():
            if table == REPLACED_CALLS:  # corrections, not rows
                continue
            metrics.rows_stored.labels(table).inc(len(rows))
            if table == "otel_traces":
                metrics.spans_stored.inc(len(rows))
            elif table == "llm_spans":
                metrics.llm_calls_stored.inc(len(rows))

    def _write_one_by_one(self, rows: list[Record], token: str, split: SplitBatch) -> None:
        """Write a rejected batch record by record, each with a token of its own, and set aside
        those the store rejects. Records already set aside (before a crash) are not tried again."""
        set_aside = self._dead_letters.seqs(self._log_id, split.first, split.last)
        for record in rows:
            seq, tables = record
            if seq in set_aside:
                continue
            try:
                self._until_done(lambda: self._insert([record], f"{token}-{seq}", split.stored), "cannot store")
            except _Rejected as rejected:
                table = rejected.failed.table
                # Rows of the tables before the one that refused are stored: set aside only the rest.
                stored = tables_before(table)
                payload = encode_rows({name: rows for name, rows in tables.items() if name not in stored})
                self._until_done(lambda: self._dead_letters.append(log_id=self._log_id, seq=seq, table=table,
                                                                   reason=str(rejected.failed), payload=payload),
                                 "cannot write the dead-letter file")
                self._metrics.dead_letters.inc()
                log.error("log record %d rejected by the store, moved to %s: %s", seq, self._dead_letters.path,
                          rejected.failed)

    # --- retrying, and saying so once ---------------------------------------------------------------

    def _until_done(self, action: Callable[[], T], problem: str) -> T:
        """Run `action` until it succeeds. Failures of the store or of the disk are retried with
        backoff while the drain counts as stalled; a rejection of the data raises _Rejected, a
        stop raises _Stopping."""
        attempt = 0
        while True:
            try:
                result = action()
            except InsertFailed as failed:
                if is_data_rejection(failed.cause):
                    self._last_contact = time.monotonic()  # the store answered
                    raise _Rejected(failed) from failed
                self._writer = None  # reconnect on the next attempt
                self._stalled(f"{problem}: {failed}")
            except (StoreUnavailable, DatabaseError, OSError) as exc:
                self._writer = None
                self._stalled(f"{problem}: {exc}")
            else:
                self._last_contact = time.monotonic()
                self._progressing()
                return result
            if self._stop.is_set():
                raise _Stopping
            attempt += 1
            self._metrics.insert_retries.inc()
            self._update_gauges()
            self._backoff(attempt)

    def _backoff(self, attempt: int) -> None:
        delay = min(_MAX_BACKOFF_S, 0.2 * 2 ** min(attempt, 8))
        self._stop.wait(delay * random.uniform(0.5, 1.0))

    def _stalled(self, problem: str) -> None:
        if self._stalled_since is None:
            self._stalled_since = time.monotonic()
        if not self._announced:
            self._announced = True
            log.warning("llmledger %s; acknowledged records wait in the log (%d now), retrying until it works",
                        problem, self._log.lag_records)
        self.problem = problem
        self._metrics.drain_stalled.set(1)

    def _progressing(self) -> None:
        if self._stalled_since is None:
            return
        if self._announced:
            log.warning("llmledger storing again after %.1f s", self.stalled_seconds)
        self._stalled_since, self._announced, self.problem = None, False, ""
        self._metrics.drain_stalled.set(0)

    def _crashed(self, exc: Exception) -> None:
        self._metrics.drain_crashes.inc()
        self._writer = None
        signature = f"{type(exc).__name__}: {exc}"
        if signature != self._last_crash:  # a crash that repeats is counted, not logged again
            self._last_crash = signature
            log.error("llmledger's log drain failed and starts over from the log's checkpoint: %s", signature,
                      exc_info=exc)
        self._announced = True  # that line is this stall's first
        self._stalled(f"the drain failed and starts over: {signature}")

    def _ensure_writer(self) -> None:
        if self._writer is None:
            self._writer = self._open_writer()

    def _ping(self) -> None:
        self._ensure_writer()
        self._writer.ping()

    def _update_gauges(self) -> None:
        self._metrics.log_bytes.set(self._log.bytes_used)
        self._metrics.log_lag.set(self._log.lag_records)


class _Rejected(Exception):
    """The store refused the data itself (not an outage)."""

    def __init__(self, failed: InsertFailed):
        super().__init__(str(failed))
        self.failed = failed


class _Stopping(Exception):
    """The drain is asked to stop while it cannot make progress."""
