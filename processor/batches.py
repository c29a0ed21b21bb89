"""What one accepted request leaves in the write-ahead log: its rows as the store takes them.

A trace export's record holds one block per table (RowBinaryWithNamesAndTypes: the header
names each column and its type, then the rows) and the (trace id, span id) of every span
in it, so that a restart knows which spans the log already holds without reading the rows:

    "LLB2"
    u32 length, then the span keys: 24 bytes each (the raw trace id, then the span id)
    u16 blocks, then each: u8 length + table name, u32 rows,
                           u32 length + header, u64 length + rows
    (integers little-endian)

Two blocks are no table: "replaced_calls", the stored calls the spans replace (twins/),
and "logged_calls", what the twin index keeps of each call (`twins.SpanFacts`), for a
restart to remember the calls of the log's unwritten tail. Both have no header and are
pickled tuples. The drain joins the table blocks of many records into one insert per
table, and hands them to the store as they are.

Metric and log exports are few rows of many types: their records are pickled Python rows
by table (`wal.payload`), as are the trace records of earlier versions; `decode` reads
both kinds into a Batch, trace rows re-encoded as blocks.
"""
from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .corrections import Replacement

MAGIC = b"LLB2"
SPAN_KEY_BYTES = 24
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
# Not a table: the stored calls a batch's spans replace (twins/), applied after every table.
REPLACED_CALLS = "replaced_calls"
LOGGED_CALLS = "logged_calls"  # nor is this: the twin facts of the record's calls


@dataclass(frozen=True, slots=True)
class Section:
    """The rows of one table: `header` (columns and types) and `data`, `rows` of them."""

    table: str
    header: bytes
    rows: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Batch:
    sections: tuple[Section, ...] = ()
    span_keys: bytes = b""  # SPAN_KEY_BYTES per span
    rows: dict[str, list[list]] = field(default_factory=dict)  # Python rows by table: metrics, logs
    replacements: tuple[Replacement, ...] = ()
    logged_calls: tuple[tuple, ...] = ()  # per call in llm_spans, its twins.SpanFacts fields

    def without(self, tables: frozenset[str]) -> Batch:
        """This batch but for the rows of `tables` (stored already)."""
        return Batch(tuple(s for s in self.sections if s.table not in tables), self.span_keys,
                     {table: rows for table, rows in self.rows.items() if table not in tables},
                     () if REPLACED_CALLS in tables else self.replacements,
                     () if "llm_spans" in tables else self.logged_calls)

    def keys(self) -> list[bytes]:
        keys = self.span_keys
        return [keys[i:i + SPAN_KEY_BYTES] for i in range(0, len(keys), SPAN_KEY_BYTES)]


def span_key(trace_id_hex: str, span_id_hex: str) -> bytes:
    """The key of a span as the log and the pipeline's memory of recent spans keep it."""
    return bytes.fromhex(trace_id_hex) + bytes.fromhex(span_id_hex)


def encode(batch: Batch) -> bytes:
    if batch.rows:
        if batch.sections:
            raise ValueError("a record holds encoded blocks or Python rows, not both")
        from .wal.payload import encode_rows

        return encode_rows({**batch.rows, **({REPLACED_CALLS: list(batch.replacements)} if batch.replacements else {})})
    sections = list(batch.sections)
    if batch.replacements:
        replaced = [(r.trace_id, r.span_id, r.keeper_trace_id, r.keeper_span_id) for r in batch.replacements]
        sections.append(Section(REPLACED_CALLS, b"", len(replaced), pickle.dumps(replaced, pickle.HIGHEST_PROTOCOL)))
    if batch.logged_calls:
        sections.append(Section(LOGGED_CALLS, b"", len(batch.logged_calls),
                                pickle.dumps(batch.logged_calls, pickle.HIGHEST_PROTOCOL)))
    parts = [MAGIC, _U32.pack(len(batch.span_keys)), batch.span_keys, _U16.pack(len(sections))]
    for section in sections:
        table = section.table.encode()
        parts += (bytes([len(table)]), table, _U32.pack(section.rows), _U32.pack(len(section.header)),
                  section.header, _U64.pack(len(section.data)), section.data)
    return b"".join(parts)


def decode(payload: bytes, *, logged_calls: bool = False) -> Batch:
    """A record as `encode` wrote it (or a pickled one), with its logged calls if asked (only a
    restart needs them). Raises ValueError for anything else."""
    if payload[:4] != MAGIC:
        return _decode_pickled(payload, logged_calls)
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
    tables = tuple(s for s in sections if s.table not in (REPLACED_CALLS, LOGGED_CALLS))
    if len(tables) == len(sections):
        return Batch(tables, keys)
    replacements: tuple = ()
    calls: tuple = ()
    # Written only by this service and checksummed by the log: safe to unpickle.
    for section in sections:
        if section.table == REPLACED_CALLS:
            from .corrections import Replacement

            replacements = tuple(Replacement(*fields) for fields in pickle.loads(section.data))
        elif section.table == LOGGED_CALLS and logged_calls:
            calls = tuple(pickle.loads(section.data))
    return Batch(tables, keys, replacements=replacements, logged_calls=calls)


def _decode_pickled(payload: bytes, logged_calls: bool) -> Batch:
    from .exporters.clickhouse import llm_section, trace_section
    from .normalize.trace_rows import OTEL_TRACES_COLUMNS
    from .wal.payload import decode_rows

    try:
        tables = decode_rows(payload)
    except Exception as exc:  # noqa: BLE001 - whatever it is, it is not a record of ours
        raise ValueError(f"log record of an unknown format: {exc}") from None
    trace_rows = tables.pop("otel_traces", [])
    llm_rows = tables.pop("llm_spans", [])
    replacements = tuple(tables.pop(REPLACED_CALLS, ()))
    trace_id, span_id = OTEL_TRACES_COLUMNS.index("TraceId"), OTEL_TRACES_COLUMNS.index("SpanId")
    keys = b"".join(span_key(row[trace_id], row[span_id]) for row in trace_rows)
    sections = [section for section in (trace_section(trace_rows), llm_section(llm_rows)) if section.rows]
    calls: tuple = ()
    if logged_calls and llm_rows:
        from .exporters.clickhouse import LLM_SPANS_COLUMNS
        from .twins.index import SpanFacts
        from .twins.stored import logged_calls as calls_of

        calls = tuple(SpanFacts.of(call).fields() for call in calls_of(llm_rows, LLM_SPANS_COLUMNS))
    return Batch(tuple(sections), keys, tables, replacements, calls)


def join_sections(batches: list[Batch], skip_tables: frozenset[str] = frozenset()) -> list[Section]:
    """The sections of many records as one per table and layout, in the order tables first appear."""
    grouped: dict[tuple[str, bytes], list[Section]] = {}
    for batch in batches:
        for section in batch.sections:
            if section.table not in skip_tables:
                grouped.setdefault((section.table, section.header), []).append(section)
    return [Section(table, header, sum(s.rows for s in parts), b"".join(s.data for s in parts))
            for (table, header), parts in grouped.items()]


def join_rows(batches: list[Batch], skip_tables: frozenset[str] = frozenset()) -> dict[str, list]:
    """The Python rows of many records by table, and their replaced calls under REPLACED_CALLS."""
    joined: dict[str, list] = {}
    for batch in batches:
        for table, rows in batch.rows.items():
            if table not in skip_tables:
                joined.setdefault(table, []).extend(rows)
        if batch.replacements and REPLACED_CALLS not in skip_tables:
            joined.setdefault(REPLACED_CALLS, []).extend(batch.replacements)
    return joined
