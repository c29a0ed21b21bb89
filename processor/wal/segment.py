"""One segment file of the log and the in-memory index of the records in it.

Segments are named by the first sequence number they were created for
(`00000000000000000001.wal`), so sorting the names sorts the log.
"""
from __future__ import annotations

import os
import re
from array import array
from bisect import bisect_right
from pathlib import Path

from .files import PRIVATE_FILE, fsync_directory
from .record_format import HEADER_SIZE, decode_header

_NAME = re.compile(r"^(\d{20})\.wal$")


def segment_file_name(first_seq: int) -> str:
    return f"{first_seq:020d}.wal"


def segment_first_seq(file_name: str) -> int | None:
    """The sequence number a segment file is named by, or None for other files."""
    match = _NAME.match(file_name)
    return int(match.group(1)) if match else None


class Segment:
    def __init__(self, path: Path, fd: int, size: int):
        self.path = path
        self.fd = fd
        self.size = size  # bytes in the file, including any corrupt regions kept in place
        # The index, as compact arrays: a log of a million records costs 24 MB, not hundreds.
        self.seqs = array("Q")
        self.offsets = array("Q")
        self.lengths = array("Q")
        # Readers and the group-commit leader use `fd` without holding the log's lock;
        # a reclaimed segment's fd is closed only once the last of them is done.
        self.users = 0
        self.retired = False

    @classmethod
    def create(cls, directory: Path, first_seq: int, *, durable: bool) -> Segment:
        path = directory / segment_file_name(first_seq)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        try:
            if durable:
                os.fsync(fd)
                fsync_directory(directory)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return cls(path, fd, 0)

    @classmethod
    def open_existing(cls, path: Path) -> Segment:
        fd = os.open(path, os.O_RDWR)
        return cls(path, fd, os.fstat(fd).st_size)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def last_seq(self) -> int | None:
        return self.seqs[-1] if self.seqs else None

    def add_to_index(self, seq: int, offset: int, length: int) -> None:
        self.seqs.append(seq)
        self.offsets.append(offset)
        self.lengths.append(length)

    def count_up_to(self, seq: int) -> int:
        """How many indexed records have a sequence number <= seq."""
        return bisect_right(self.seqs, seq)

    def append_record(self, header: bytes, payload: bytes) -> int:
        """Write one record at the end of the file (one syscall); returns its offset.

        If this raises, part of the record may be in the file: the caller cuts
        the file back with `truncate_to(self.size)`."""
        offset = self.size
        total = HEADER_SIZE + len(payload)
        written = os.pwritev(self.fd, [header, payload], offset)
        while written < total:  # rare short write: finish it from where it stopped
            written += os.pwrite(self.fd, (header + payload)[written:], offset + written)
        self.size = offset + total
        return offset

    def truncate_to(self, size: int) -> None:
        os.ftruncate(self.fd, size)
        self.size = size

    def read_records(self, first: int, last: int) -> list[tuple[int, bytes]]:
        """Payloads of index entries first..last (inclusive), read with one sequential pread."""
        start = self.offsets[first]
        end = self.offsets[last] + HEADER_SIZE + self.lengths[last]
        data = os.pread(self.fd, end - start, start)
        if len(data) != end - start:
            raise OSError(f"{self.path}: expected {end - start} bytes at offset {start}, read {len(data)}")
        records = []
        with memoryview(data) as view:
            for i in range(first, last + 1):
                at = self.offsets[i] - start
                seq, length = decode_header(data, at)
                if seq != self.seqs[i] or length != self.lengths[i]:  # file changed under us: never guess
                    raise OSError(f"{self.path}: record at offset {self.offsets[i]} changed on disk")
                records.append((seq, bytes(view[at + HEADER_SIZE:at + HEADER_SIZE + length])))
        return records

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
