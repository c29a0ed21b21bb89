"""How one record is laid out on disk, and how a segment's bytes are scanned back.

A record is a 20-byte header followed by the payload:

    magic    4 bytes   b"LLW1" (format version 1)
    length   uint32    payload length in bytes
    seq      uint64    sequence number
    crc      uint32    CRC-32 of the payload followed by the 16 header bytes before it

All integers are little-endian. The CRC covers the payload first so that it can
be computed before the record's sequence number is known (outside the append lock).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

MAGIC = b"LLW1"
_PREFIX = struct.Struct("<4sIQ")  # magic, length, seq: the part the CRC covers
_HEADER = struct.Struct("<4sIQI")
HEADER_SIZE = _HEADER.size
MAX_PAYLOAD = 2**32 - 1


def payload_crc(payload) -> int:
    return zlib.crc32(payload)


def encode_header(seq: int, length: int, crc_of_payload: int) -> bytes:
    prefix = _PREFIX.pack(MAGIC, length, seq)
    return prefix + struct.pack("<I", zlib.crc32(prefix, crc_of_payload))


def decode_header(buffer, offset: int) -> tuple[int, int]:
    """(seq, length) of the header at `offset`, or (0, 0) when there is no header there."""
    magic, length, seq, _crc = _HEADER.unpack_from(buffer, offset)
    return (seq, length) if magic == MAGIC else (0, 0)


@dataclass(slots=True)
class ScanResult:
    records: list[tuple[int, int, int]] = field(default_factory=list)  # (seq, offset, length)
    corrupt: list[tuple[int, int]] = field(default_factory=list)  # (offset, length)
    valid_end: int = 0  # end of the last good record: everything after it is a bad tail


def scan(buffer, size: int, after_seq: int) -> ScanResult:
    """Find every intact record in `buffer[:size]` whose seq is above `after_seq`.

    Sequence numbers must increase through the buffer. Bytes that do not form an
    intact record are reported as corrupt; scanning resumes at the next offset
    where an intact record starts (a resync), so one damaged record does not hide
    the good ones behind it.
    """
    result = ScanResult()
    last_seq = after_seq
    offset = 0
    bad_since: int | None = None
    with memoryview(buffer) as view:
        while offset < size:
            found = _record_at(buffer, view, offset, size, last_seq)
            if found is None:
                if bad_since is None:
                    bad_since = offset
                next_magic = buffer.find(MAGIC, offset + 1, size)
                offset = size if next_magic == -1 else next_magic
                continue
            if bad_since is not None:
                result.corrupt.append((bad_since, offset - bad_since))
                bad_since = None
            seq, length = found
            result.records.append((seq, offset, length))
            last_seq = seq
            offset += HEADER_SIZE + length
            result.valid_end = offset
    if bad_since is not None:
        result.corrupt.append((bad_since, size - bad_since))
    return result


def _record_at(buffer, view, offset: int, size: int, last_seq: int) -> tuple[int, int] | None:
    if size - offset < HEADER_SIZE:
        return None
    magic, length, seq, crc = _HEADER.unpack_from(buffer, offset)
    if magic != MAGIC or seq <= last_seq or length > size - offset - HEADER_SIZE:
        return None
    payload_start = offset + HEADER_SIZE
    with view[payload_start:payload_start + length] as payload, view[offset:payload_start - 4] as prefix:
        expected = zlib.crc32(prefix, zlib.crc32(payload))
    if crc != expected:
        return None
    return seq, length
