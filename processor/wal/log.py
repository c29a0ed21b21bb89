"""The write-ahead log behind "a 200 means durable".

Receivers append each accepted request and answer only once `append` returns;
the ClickHouse writer thread reads records in order, announces the range it is
about to insert (`begin_batch`), inserts it, and `commit`s it, which lets the log
delete segments that hold nothing but committed records.

Group commit: appenders write their record under the lock, then wait for it to
be durable. Whoever finds no flush in progress becomes the leader: it fsyncs
everything written so far outside the lock, while records arriving meanwhile
pile up for the next leader. Eight concurrent appenders pay about two fsyncs,
not eight.
"""
from __future__ import annotations

import errno
import logging
import os
import threading
from pathlib import Path

from .checkpoint import FILE_NAME as CHECKPOINT_FILE_NAME
from .checkpoint import Checkpoint, load_checkpoint, store_checkpoint
from .files import PRIVATE_DIRECTORY, fsync_directory, lock_directory, unlock_directory
from .record_format import HEADER_SIZE, MAX_PAYLOAD, encode_header, payload_crc
from .recovery import RecoveryReport, recover_segments
from .segment import Segment

logger = logging.getLogger(__name__)


class LogFull(Exception):
    """Appending would exceed max_bytes; space comes back as the writer commits."""


class LogFailed(Exception):
    """A write or fsync failed, so what is on disk is no longer known: appends stop.

    Records that were already durable can still be read and committed; reopening
    the log (a restart) recovers the rest."""


_sync_data = getattr(os, "fdatasync", os.fsync)  # record appends only need the data and the file size


class WriteAheadLog:
    def __init__(self, directory: Path, *, segment_bytes: int = 64 << 20, max_bytes: int = 1 << 30,
                 fsync: bool = True):
        _require_int("segment_bytes", segment_bytes, minimum=HEADER_SIZE + 1)
        _require_int("max_bytes", max_bytes, minimum=HEADER_SIZE + 1)
        if segment_bytes > max_bytes:
            raise ValueError(f"segment_bytes ({segment_bytes}) must not exceed max_bytes ({max_bytes})")
        self.directory = Path(directory)
        self._segment_bytes = segment_bytes
        self._max_bytes = max_bytes
        self._fsync = bool(fsync)

        self._make_directory()
        self._lock_fd = lock_directory(self.directory)
        try:
            (self.directory / (CHECKPOINT_FILE_NAME + ".tmp")).unlink(missing_ok=True)
            checkpoint = load_checkpoint(self.directory)
            segments, corrupt_regions, files_found = recover_segments(self.directory, durable=self._fsync)
        except BaseException:
            unlock_directory(self._lock_fd)
            raise

        self._cond = threading.Condition(threading.Lock())
        self._state_lock = threading.Lock()  # serializes checkpoint writes without blocking appends
        self._segments: list[Segment] = segments
        self._active: Segment | None = None  # appends always start a fresh segment after open
        self._retired: list[Segment] = []  # reclaimed, fd still in use by a reader or the leader
        self._unsynced: list[Segment] = []  # segments written to since the last flush
        self._bytes_used = sum(segment.size for segment in segments)
        self._committed_seq = checkpoint.committed_seq
        self._pending_batch = checkpoint.pending_batch

        # Sequence numbers never go back, not even when every segment has been reclaimed
        # or a record was lost to corruption after the writer had seen it.
        highest = max([checkpoint.committed_seq, *(checkpoint.pending_batch or ()),
                       *(segment.last_seq for segment in segments)])
        self._next_seq = highest + 1
        self._written_seq = highest  # last record written (maybe not yet durable)
        self._durable_seq = highest  # last record known to be on disk
        self._flush_running = False
        self._flushes = 0
        self._failure: BaseException | None = None
        self._closed = False
        self._busy = 0  # calls in progress; close() waits for them

        records = sum(len(segment.seqs) for segment in segments)
        self.recovery = RecoveryReport(
            segments=files_found, records=records, replayable_records=self._count_after(self._committed_seq),
            committed_seq=self._committed_seq, pending_batch=self._pending_batch,
            corrupt_regions=tuple(corrupt_regions),
        )
        if self.recovery.replayable_records:
            logger.info("write-ahead log in %s: %d records to replay after seq %d",
                        self.directory, self.recovery.replayable_records, self._committed_seq)
        with self._cond:
            reclaimable = self._take_reclaimable()
        self._unlink(reclaimable)

    # ---- appending ----------------------------------------------------------------------------

    def append(self, payload: bytes) -> int:
        """Append one record; returns its sequence number once it is durable.

        Raises LogFull when max_bytes (or the disk) has no room for it, LogFailed
        once an fsync has failed."""
        data = _as_bytes(payload)
        record_bytes = HEADER_SIZE + len(data)
        if len(data) > MAX_PAYLOAD or record_bytes > self._max_bytes:
            raise ValueError(f"a record of {len(data)} bytes can never fit in this log "
                             f"(max_bytes={self._max_bytes}, {HEADER_SIZE} bytes of header per record)")
        crc = payload_crc(data)  # the expensive part of encoding, done before taking the lock
        with self._cond:
            self._enter()
            try:
                if self._failure is not None:
                    raise LogFailed(f"write-ahead log in {self.directory} stopped after an I/O error: "
                                    f"{self._failure}") from self._failure
                try:
                    seq = self._write(data, crc, record_bytes)
                except OSError as error:
                    if error.errno in (errno.ENOSPC, errno.EDQUOT):  # backpressure, like max_bytes
                        raise LogFull(f"write-ahead log in {self.directory}: disk full: {error}") from error
                    raise
                self._wait_until_durable(seq)
                return seq
            finally:
                self._leave()

    def _write(self, data: bytes, crc: int, record_bytes: int) -> int:
        if self._bytes_used + record_bytes > self._max_bytes:
            raise LogFull(f"write-ahead log in {self.directory} is full: {self._bytes_used} of {self._max_bytes} "
                          f"bytes hold records not yet committed, no room for {record_bytes} more")
        segment = self._segment_with_room_for(record_bytes)
        seq = self._next_seq
        try:
            offset = segment.append_record(encode_header(seq, len(data), crc), data)
        except OSError:
            try:  # cut off the partial record so that later records follow intact ones
                segment.truncate_to(segment.size)
            except OSError as error:
                self._failure = error
            raise
        segment.add_to_index(seq, offset, len(data))
        self._next_seq = seq + 1
        self._written_seq = seq
        self._bytes_used += record_bytes
        if not self._unsynced or self._unsynced[-1] is not segment:
            self._unsynced.append(segment)
        if not self._fsync:
            self._durable_seq = seq
            self._cond.notify_all()
        return seq

    def _segment_with_room_for(self, record_bytes: int) -> Segment:
        active = self._active
        if active is None or (active.size > 0 and active.size + record_bytes > self._segment_bytes):
            active = Segment.create(self.directory, self._next_seq, durable=self._fsync)
            self._segments.append(active)
            self._active = active
        return active

    def _wait_until_durable(self, seq: int) -> None:
        while self._durable_seq < seq:
            if self._failure is not None:
                raise LogFailed(f"write-ahead log in {self.directory}: fsync failed: {self._failure}") from self._failure
            if self._flush_running:
                self._cond.wait()  # a leader is flushing; it or the next one covers this record
                continue
            self._lead_flush()

    def _lead_flush(self) -> None:
        """Flush every record written so far; called with the lock held, fsyncs without it."""
        self._flush_running = True
        target = self._written_seq
        segments, self._unsynced = self._unsynced, []
        self._use(segments)
        failure = None
        self._cond.release()
        try:
            for segment in segments:
                self._sync_data(segment.fd)
        except BaseException as error:  # after a failed fsync the page cache cannot be trusted
            failure = error
        finally:
            self._cond.acquire()
        self._release(segments)
        self._flush_running = False
        if failure is None:
            self._durable_seq = max(self._durable_seq, target)
            self._flushes += 1
        else:
            self._failure = failure
            logger.error("write-ahead log in %s: fsync failed, appends stop: %s", self.directory, failure)
        self._cond.notify_all()

    def _sync_data(self, fd: int) -> None:
        _sync_data(fd)

    # ---- reading ------------------------------------------------------------------------------

    def read(self, after_seq: int, max_records: int, max_bytes: int) -> list[tuple[int, bytes]]:
        """Durable records with seq > after_seq, in order, as (seq, payload).

        Stops at max_records or before the payloads would pass max_bytes, but always
        returns at least one record if there is one, so an oversized record cannot
        stall the writer. Records at or below the committed watermark may already
        have been reclaimed."""
        _require_int("after_seq", after_seq, minimum=0)
        _require_int("max_records", max_records, minimum=1)
        _require_int("max_bytes", max_bytes, minimum=1)
        with self._cond:
            self._enter()
            try:
                plan = self._plan_read(after_seq, max_records, max_bytes)
                self._use([segment for segment, _, _ in plan])
            except BaseException:
                self._leave()
                raise
        try:
            records = []
            for segment, first, last in plan:
                records += segment.read_records(first, last)
            return records
        finally:
            with self._cond:
                self._release([segment for segment, _, _ in plan])
                self._leave()

    def _plan_read(self, after_seq: int, max_records: int, max_bytes: int) -> list[tuple[Segment, int, int]]:
        plan = []
        count = payload_bytes = 0
        for segment in self._segments:
            last_seq = segment.last_seq
            if last_seq is None or last_seq <= after_seq:
                continue
            first = index = segment.count_up_to(after_seq)
            end = segment.count_up_to(self._durable_seq)
            while index < end and count < max_records:
                length = segment.lengths[index]
                if count and payload_bytes + length > max_bytes:
                    break
                count += 1
                payload_bytes += length
                index += 1
            if index > first:
                plan.append((segment, first, index - 1))
            if index < end or count == max_records or end < len(segment.seqs):
                break  # a limit was reached, or the rest of the log is not durable yet
        return plan

    def wait_for_records(self, after_seq: int, timeout: float) -> bool:
        """Block until a durable record with seq > after_seq exists (True), or the timeout passes
        or the log is closed (False)."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._last_durable_record() > after_seq, timeout)
            return not self._closed and self._last_durable_record() > after_seq

    def _last_durable_record(self) -> int:
        for segment in reversed(self._segments):
            durable = segment.count_up_to(self._durable_seq)
            if durable:
                return segment.seqs[durable - 1]
        return 0

    # ---- the writer's batches -----------------------------------------------------------------

    def begin_batch(self, first_seq: int, last_seq: int) -> None:
        """Persist the range about to be inserted, so a restart re-inserts exactly this range."""
        _require_int("first_seq", first_seq, minimum=1)
        _require_int("last_seq", last_seq, minimum=1)
        with self._state_lock:
            with self._cond:
                self._enter()
            try:
                if not (self._committed_seq < first_seq <= last_seq <= self._durable_seq):
                    raise ValueError(f"batch {first_seq}..{last_seq} is not within the uncommitted durable records "
                                     f"{self._committed_seq + 1}..{self._durable_seq}")
                store_checkpoint(self.directory, Checkpoint(self._committed_seq, (first_seq, last_seq)),
                                 durable=self._fsync)
                with self._cond:
                    self._pending_batch = (first_seq, last_seq)
            finally:
                with self._cond:
                    self._leave()

    def pending_batch(self) -> tuple[int, int] | None:
        """The batch begun but not committed (after a restart: the one to re-insert first)."""
        with self._cond:
            return self._pending_batch

    def commit(self, last_seq: int) -> None:
        """Everything <= last_seq is stored: persist the watermark and reclaim fully committed segments.

        The pending batch is cleared once the watermark covers it."""
        _require_int("last_seq", last_seq, minimum=0)
        with self._state_lock:
            with self._cond:
                self._enter()
            try:
                if not (self._committed_seq <= last_seq <= self._durable_seq):
                    raise ValueError(f"cannot commit up to {last_seq}: the watermark is at {self._committed_seq} "
                                     f"and the last durable record is {self._durable_seq}")
                pending = self._pending_batch
                if pending is not None and pending[1] <= last_seq:
                    pending = None
                if last_seq == self._committed_seq and pending == self._pending_batch:
                    return  # nothing new to persist
                store_checkpoint(self.directory, Checkpoint(last_seq, pending), durable=self._fsync)
                with self._cond:
                    self._committed_seq = last_seq
                    self._pending_batch = pending
                    reclaimable = self._take_reclaimable()
                self._unlink(reclaimable)
            finally:
                with self._cond:
                    self._leave()

    def _take_reclaimable(self) -> list[Segment]:
        """Detach the segments that hold only committed records (lock held)."""
        reclaimable = []
        while self._segments:
            segment = self._segments[0]
            last_seq = segment.last_seq
            if last_seq is None or last_seq > self._committed_seq:
                break
            self._segments.pop(0)
            self._bytes_used -= segment.size
            if segment is self._active:
                self._active = None
            # Committed records are durable, so the segment has nothing left to flush.
            self._unsynced = [other for other in self._unsynced if other is not segment]
            segment.retired = True
            if segment.users:
                self._retired.append(segment)
            else:
                segment.close()
            reclaimable.append(segment)
        return reclaimable

    def _unlink(self, segments: list[Segment]) -> None:
        for segment in segments:
            try:
                segment.path.unlink()
            except OSError as error:  # it is reclaimed again at the next open
                logger.warning("write-ahead log: could not delete committed segment %s: %s", segment.path, error)

    # ---- state --------------------------------------------------------------------------------

    @property
    def committed_seq(self) -> int:
        return self._committed_seq

    @property
    def last_seq(self) -> int:
        """The highest durable sequence number; the next append gets a higher one."""
        return self._durable_seq

    @property
    def bytes_used(self) -> int:
        """Bytes of segment files on disk (what max_bytes limits)."""
        return self._bytes_used

    @property
    def lag_records(self) -> int:
        """Durable records the writer has not committed yet."""
        with self._cond:
            return self._count_after(self._committed_seq)

    @property
    def lag_bytes(self) -> int:
        """Payload bytes of the durable records the writer has not committed yet."""
        with self._cond:
            total = 0
            for segment in self._segments:
                start, end = segment.count_up_to(self._committed_seq), segment.count_up_to(self._durable_seq)
                if end > start:
                    total += sum(segment.lengths[start:end])
            return total

    @property
    def flushes(self) -> int:
        """Group-commit flushes so far: how many times appenders waited for an fsync."""
        return self._flushes

    def _count_after(self, seq: int) -> int:
        return sum(segment.count_up_to(self._durable_seq) - segment.count_up_to(seq) for segment in self._segments)

    # ---- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Wait for calls in progress, then close every file and release the directory."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._busy == 0)
            for segment in self._segments + self._retired:
                segment.close()
            self._segments, self._retired, self._unsynced, self._active = [], [], [], None
        unlock_directory(self._lock_fd)

    def __enter__(self) -> WriteAheadLog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _enter(self) -> None:
        if self._closed:
            raise ValueError(f"write-ahead log in {self.directory} is closed")
        self._busy += 1

    def _leave(self) -> None:
        self._busy -= 1
        if self._busy == 0:
            self._cond.notify_all()

    def _use(self, segments: list[Segment]) -> None:
        for segment in segments:
            segment.users += 1

    def _release(self, segments: list[Segment]) -> None:
        for segment in segments:
            segment.users -= 1
            if segment.retired and segment.users == 0:
                segment.close()
                self._retired.remove(segment)

    def _make_directory(self) -> None:
        if self.directory.is_dir():
            return
        self.directory.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
        if self._fsync:
            fsync_directory(self.directory.parent)


def _as_bytes(payload) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(f"a write-ahead log record must be bytes, not {type(payload).__name__}")


def _require_int(name: str, value, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
