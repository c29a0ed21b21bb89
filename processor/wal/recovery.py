"""What opening a log does before it accepts appends: scan every segment, index
the intact records, and cut away what a crash or a bad disk left behind.

A torn or corrupted tail (the usual result of a crash mid-write) is truncated.
A damaged record in the middle of a segment is skipped: the scan resyncs at the
next intact record (magic, in-range length, increasing seq and matching CRC), so
the records behind it are kept; the damaged bytes stay in the file, are reported
on every open, and go when the segment is reclaimed. Nothing in later segments is
affected either way.
"""
from __future__ import annotations

import logging
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

from .record_format import scan
from .segment import Segment, segment_first_seq

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CorruptRegion:
    segment: str  # file name
    offset: int
    length: int  # bytes dropped
    truncated: bool  # True: a bad tail cut off the file; False: skipped in the middle


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    segments: int  # segment files found
    records: int  # intact records found
    replayable_records: int  # intact records above the committed watermark
    committed_seq: int
    pending_batch: tuple[int, int] | None
    corrupt_regions: tuple[CorruptRegion, ...] = ()

    @property
    def bytes_skipped(self) -> int:
        return sum(region.length for region in self.corrupt_regions)


def recover_segments(directory: Path, *, durable: bool) -> tuple[list[Segment], list[CorruptRegion], int]:
    """Open and index every segment file. Returns (segments, corrupt regions, files found).

    Segments left without any intact record are deleted."""
    files = sorted((first, path) for path in directory.iterdir() if (first := segment_first_seq(path.name)) is not None)
    segments: list[Segment] = []
    regions: list[CorruptRegion] = []
    last_seq = 0
    try:
        for first_seq, path in files:
            segment = Segment.open_existing(path)
            segments.append(segment)
            regions += _index_segment(segment, after_seq=max(last_seq, first_seq - 1), durable=durable)
            if segment.last_seq is None:
                segments.pop().close()
                path.unlink()
                continue
            last_seq = segment.last_seq
    except BaseException:
        for segment in segments:
            segment.close()
        raise
    return segments, regions, len(files)


def _index_segment(segment: Segment, *, after_seq: int, durable: bool) -> list[CorruptRegion]:
    if segment.size == 0:
        return []
    with mmap.mmap(segment.fd, segment.size, access=mmap.ACCESS_READ) as mapped:
        result = scan(mapped, segment.size, after_seq)
    for seq, offset, length in result.records:
        segment.add_to_index(seq, offset, length)
    regions = []
    for offset, length in result.corrupt:
        truncated = offset >= result.valid_end
        regions.append(CorruptRegion(segment.name, offset, length, truncated))
        logger.warning(
            "write-ahead log segment %s: %d bytes at offset %d are not an intact record (torn write or corruption); %s",
            segment.path, length, offset, "truncated" if truncated else "skipped, later records kept",
        )
    if result.valid_end < segment.size:
        os.ftruncate(segment.fd, result.valid_end)
        if durable:
            os.fsync(segment.fd)
        segment.size = result.valid_end
    return regions
