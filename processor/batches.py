"""What one accepted request leaves in the write-ahead log: its rows as the store takes them.

A record holds one block per table (RowBinaryWithNamesAndTypes: the header names each
column and its type, then the rows) and the (trace id, span id) of every span in it, so
that a restart knows which spans the log already holds without reading the rows:

    "LLB2"
    u32 length, then the span keys: 24 bytes each (the raw trace id, then the span id)
    u16 blocks, then each: u8 length + table name, u32 rows,
                           u32 length + header, u64 length + rows
    (integers little-endian)

The drain joins the blocks of many records into one insert per table, and hands them to
the store as they are. New kinds of rows are new tables in the same record. Records of
format 1 (pickled Python rows, written by earlier versions) are still read.
"""
from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass

MAGIC = b"LLB2"
SPAN_KEY_BYTES = 24
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_PICKLED_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Section:
    """The rows of one table: `header` (columns and types) and `data`, `rows` of them."""

    table: str
    header: bytes
    rows: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Batch:
    sections: tuple[Section, ...]
    span_keys: bytes = b""  # SPAN_KEY_BYTES per span

    def keys(self) -> list[bytes]:
        keys = self.span_keys
        return [keys[i:i + SPAN_KEY_BYTES] for i in range(0, len(keys), SPAN_KEY_BYTES)]


def span_key(trace_id_hex: str, span_id_hex: str) -> bytes:
    """The key of a span as the log and the pipeline's memory of recent spans keep it."""
    return bytes.fromhex(trace_id_hex) + bytes.fromhex(span_id_hex)


def encode(batch: Batch) -> bytes:
    parts = [MAGIC, _U32.pack(len(batch.span_keys)), batch.span_keys, _U16.pack(len(batch.sections))]
    for section in batch.sections:
        table = section.table.encode()
        parts += (bytes([len(table)]), table, _U32.pack(section.rows), _U32.pack(len(section.header)),
                  section.header, _U64.pack(len(section.data)), section.data)
    return b"".join(parts)


def decode(payload: bytes) -> Batch:
    """A record as `encode` wrote it (or a format 1 record). Raises ValueError for anything else."""
    if payload[:4] != MAGIC:
        return _decode_pickled(payload)
    view = memoryview(payload)
    try:
        at = 4
        (size,) = _U32.unpack_from(view, at)
        keys = bytes(view[at + 4:at + 4 + size])
        at += 4 + size
        (count,) = _U16.unpack_from(view, at)
        at += 2
        sections = []
        for _ in range(count):
            length = view[at]
            table = bytes(view[at + 1:at + 1 + length]).decode()
            at += 1 + length
            (rows,) = _U32.unpack_from(view, at)
            (size,) = _U32.unpack_from(view, at + 4)
            header = bytes(view[at + 8:at + 8 + size])
            at += 8 + size
            (size,) = _U64.unpack_from(view, at)
            data = bytes(view[at + 8:at + 8 + size])
            at += 8 + size
            sections.append(Section(table, header, rows, data))
    except (struct.error, IndexError, UnicodeError) as exc:
        raise ValueError(f"log record is not a batch: {exc}") from None
    if at != len(payload) or len(keys) % SPAN_KEY_BYTES:
        raise ValueError("log record is not a batch: its lengths do not add up")
    return Batch(tuple(sections), keys)


def _decode_pickled(payload: bytes) -> Batch:
    # Written only by this service and checksummed by the log: safe to unpickle.
    from .exporters.clickhouse import llm_section, trace_section
    from .normalize.trace_rows import OTEL_TRACES_COLUMNS

    try:
        version, trace_rows, llm_rows = pickle.loads(payload)
    except Exception as exc:  # noqa: BLE001 - whatever it is, it is not a record of ours
        raise ValueError(f"log record of an unknown format: {exc}") from None
    if version != _PICKLED_FORMAT:
        raise ValueError(f"log record of format {version}, this version reads {_PICKLED_FORMAT} and 2")
    trace_id, span_id = OTEL_TRACES_COLUMNS.index("TraceId"), OTEL_TRACES_COLUMNS.index("SpanId")
    keys = b"".join(span_key(row[trace_id], row[span_id]) for row in trace_rows)
    sections = [section for section in (trace_section(trace_rows), llm_section(llm_rows)) if section.rows]
    return Batch(tuple(sections), keys)


def join_sections(batches: list[Batch], skip_tables: frozenset[str] = frozenset()) -> list[Section]:
    """The sections of many records as one per table and layout, in the order tables first appear."""
    grouped: dict[tuple[str, bytes], list[Section]] = {}
    for batch in batches:
        for section in batch.sections:
            if section.table not in skip_tables:
                grouped.setdefault((section.table, section.header), []).append(section)
    return [Section(table, header, sum(s.rows for s in parts), b"".join(s.data for s in parts))
            for (table, header), parts in grouped.items()]
