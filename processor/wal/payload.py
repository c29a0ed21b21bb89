"""What a log record holds: rows for ClickHouse tables, by table name.

    encode_rows({"otel_traces": [...], "llm_spans": [...]})   # a trace export, priced
    encode_rows({"otel_metrics_histogram": [...]})             # a metrics export
    decode_rows(payload) -> {table: rows}

Records of every signal share the one log and the one drain: a record is just rows,
each list in its table's column order (`exporters.clickhouse.TABLE_COLUMNS`). Pickled:
written and read only by this service, and checksummed by the log. The format number
guards against replaying a log of another layout; format 1 (before metrics and logs)
is still read, so an upgrade replays what the previous version acknowledged, and
`llm_spans` rows logged before that table's latest columns get their defaults. A trace
record may also carry the stored calls its spans replace (`REPLACED_CALLS`, twins/).
"""
from __future__ import annotations

import pickle

from ..exporters.clickhouse import complete_llm_rows

Rows = dict[str, list[list]]

_FORMAT = 2


def encode_rows(tables: Rows) -> bytes:
    return pickle.dumps((_FORMAT, tables), protocol=pickle.HIGHEST_PROTOCOL)


def decode_rows(payload: bytes | Rows) -> Rows:
    if isinstance(payload, dict):  # from the in-memory log: never encoded
        return payload
    record = pickle.loads(payload)
    version = record[0]
    if version == _FORMAT:
        tables = record[1]
    elif version == 1:
        _, trace_rows, llm_rows = record
        tables = {"otel_traces": trace_rows, "llm_spans": llm_rows}
    else:
        raise ValueError(f"log record of format {version}, this version reads {_FORMAT} and 1")
    if "llm_spans" in tables:  # logged by a version before llm_spans' latest columns
        tables["llm_spans"] = complete_llm_rows(tables["llm_spans"])
    return tables


def row_count(tables: Rows) -> int:
    return sum(len(rows) for rows in tables.values())
