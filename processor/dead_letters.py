"""The dead-letter file: what the store refused for good, set aside with the reason.

`dead-letter.jsonl` in the data directory, one JSON object a line:

    {"log_id": ..., "seq": 42, "table": "llm_spans", "reason": "...", "payload_hex": "..."}

`table` is the table that refused the log record. The record's rows of the tables written
before that one (`exporters.clickhouse.TABLE_COLUMNS` order) are stored; the payload holds
the rest: for "otel_traces" the whole record, for "llm_spans" only its llm_spans rows (its
spans are in otel_traces). So every row is either stored or here, never both. The payload
is the log's own record format (`wal.decode_rows` reads it).

A batch the store rejects is written again record by record. While that goes on, a small
marker file names the batch, so that after a crash the drain resumes record by record with
the same tokens (what was stored is not stored again) and skips the records already here
(what is here is not stored after all, even if the store would now take it).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .wal.files import write_atomically


@dataclass(frozen=True, slots=True)
class SplitBatch:
    """A batch being written record by record; `stored`: the tables whose rows already are."""

    log_id: str
    first: int
    last: int
    stored: frozenset[str]


class DeadLetters:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._split_path = self.path.with_name(self.path.name + ".split")

    def append(self, *, log_id: str, seq: int, table: str, reason: str, payload: bytes) -> None:
        """Add one entry, durably. Raises OSError (a full disk): then nothing was added."""
        entry = json.dumps({"log_id": log_id, "seq": seq, "table": table, "reason": reason,
                            "payload_hex": payload.hex()})
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            size = os.fstat(fd).st_size
            # A crash mid-append leaves a torn last line: end it, so this entry parses.
            torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
            data = (b"\n" if torn else b"") + entry.encode() + b"\n"
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)  # no half entry left behind for the next attempt to follow
                raise
        finally:
            os.close(fd)

    def seqs(self, log_id: str, first: int, last: int) -> set[int]:
        """Sequence numbers of this log's records in [first, last] that are already set aside."""
        found = set()
        try:
            with open(self.path, encoding="utf-8") as file:
                for line in file:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue  # a torn line: its record was not set aside
                    if entry.get("log_id") == log_id and first <= entry.get("seq", 0) <= last:
                        found.add(entry["seq"])
        except FileNotFoundError:
            pass
        return found

    # --- the batch being written record by record ------------------------------------------------

    def begin_split(self, split: SplitBatch) -> None:
        text = json.dumps({"log_id": split.log_id, "first": split.first, "last": split.last,
                           "stored": sorted(split.stored)})
        write_atomically(self._split_path, text.encode(), durable=True)

    def split_of(self, log_id: str, first: int, last: int) -> SplitBatch | None:
        """The marker for this very batch, if a previous attempt began writing it record by record."""
        try:
            state = json.loads(self._split_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        # Markers of the version before metrics and logs said "traces_stored" (otel_traces or none).
        stored = state.get("stored", ["otel_traces"] if state.get("traces_stored") else [])
        split = SplitBatch(state.get("log_id"), state.get("first"), state.get("last"), frozenset(stored))
        return split if (split.log_id, split.first, split.last) == (log_id, first, last) else None

    def end_split(self) -> None:
        self._split_path.unlink(missing_ok=True)  # a stale marker names a batch that never comes again
