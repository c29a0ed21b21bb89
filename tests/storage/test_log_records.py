"""Log records hold rows as the store takes them (RowBinaryWithNamesAndTypes): the layouts the
service encodes with are the tables the migrations create, every value type reads back as it
was written, and a record of the previous format (pickled rows) is still stored after an upgrade."""
from __future__ import annotations

import pickle
from dataclasses import replace
from decimal import Decimal

import pytest

from llmledger.processor import batches
from llmledger.processor.exporters.clickhouse import LLM_SPANS_LAYOUT, OTEL_TRACES_LAYOUT, ClickHouseWriter, llm_span_row
from llmledger.processor.exporters.rowbinary import Layout
from llmledger.processor.corrections import Replacement
from llmledger.processor.exporters.clickhouse import REPLACED_CALLS
from llmledger.processor.record import LlmCall
from llmledger.processor.twins.index import SpanFacts
from llmledger.processor.wal import encode_rows


def _columns(clickhouse, table: str) -> tuple[tuple[str, str], ...]:
    rows = clickhouse.query("SELECT name, type FROM system.columns WHERE database = currentDatabase() "
                            "AND table = {t:String} AND default_kind NOT IN ('MATERIALIZED', 'ALIAS') "
                            "ORDER BY position", parameters={"t": table}).result_rows
    return tuple((name, type_name) for name, type_name in rows)


# Columns a new row leaves to their defaults: a call's first version (migration 020).
_DEFAULTED = {("sign", "Int8"), ("row_version", "UInt32")}


def test_the_layouts_are_the_tables_the_migrations_create(clickhouse):
    for layout in (OTEL_TRACES_LAYOUT, LLM_SPANS_LAYOUT):
        declared = tuple(zip(layout.names, layout.types))
        assert declared == tuple(c for c in _columns(clickhouse, layout.table) if c not in _DEFAULTED)


TRACE = ["00000000000000000000000000000abc", "0000000000000def"]


def _trace_row(span: str, **values) -> list:
    row = dict(zip(OTEL_TRACES_LAYOUT.names, [
        1_764_590_400_123_456_789, TRACE[0], span, "", "", "chat gpt-4o", "Client", "svc", {"service.name": "svc"},
        "scope", "1.0", {"gen_ai.request.model": "gpt-4o", "ünïcode": "😀 \x00 nul"}, 1_500_000_000, "Ok", "",
        [1_764_590_400_223_456_789, 9_223_372_036_854_775_807], ["first", "end of time"], [{"k": "v"}, {}],
        [TRACE[0]], ["0000000000000001"], ["w3c=1"], [{"link": "attr"}]]))
    row.update(values)
    return list(row.values())


def test_every_value_reads_back_as_written(clickhouse):
    cost = Decimal("1000000.000000000000")
    call = LlmCall(timestamp_ns=1_764_590_400_123_456_789, trace_id=TRACE[0], span_id=TRACE[1], service_name="svc",
                   app="app", environment="prod", provider="openai", operation="chat", request_model="gpt-4o",
                   response_model="gpt-4o-2024", server_address="api.openai.com", service_tier="flex", streaming=True,
                   user_id="ü" * 200, team="team", feature="feature", tenant="tenant", tags={"tag": "value"},
                   input_tokens=100_000_000, output_tokens=2, cache_read_tokens=3, cache_write_tokens=4,
                   reasoning_tokens=5, usage_reported=True, cost=cost, cost_details={"input": Decimal("0.000000000001")},
                   price_source="catalog", price_version="v1", duration_ns=7, time_to_first_chunk=0.25, status="Ok",
                   prompt_cache_saved=Decimal("-0.5"))
    unpriced = replace(call, span_id="0000000000000fed", cost=None, cost_details={}, unpriced=True,
                       time_to_first_chunk=None, prompt_cache_saved=Decimal(0))
    ClickHouseWriter(clickhouse).write([_trace_row(TRACE[1])], [llm_span_row(call), llm_span_row(unpriced)],
                                       token="values")
    stored = clickhouse.query("SELECT toUnixTimestamp64Nano(Timestamp), SpanAttributes, Events.Name, "
                              "arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp), Links.Attributes, "
                              "Duration FROM otel_traces").result_rows
    assert stored == [(1_764_590_400_123_456_789, {"gen_ai.request.model": "gpt-4o", "ünïcode": "😀 \x00 nul"},
                       ["first", "end of time"], [1_764_590_400_223_456_789, 9_223_372_036_854_775_807],
                       [{"link": "attr"}], 1_500_000_000)]
    calls = clickhouse.query("SELECT span_id, user_id, input_tokens, cost, cost_details, time_to_first_chunk, "
                             "streaming, model, prompt_cache_saved FROM llm_spans ORDER BY span_id").result_rows
    assert calls == [("0000000000000def", "ü" * 200, 100_000_000, cost, {"input": Decimal("0.000000000001")}, 0.25,
                      True, "gpt-4o-2024", Decimal("-0.5")),
                     ("0000000000000fed", "ü" * 200, 100_000_000, None, {}, None, True, "gpt-4o-2024", Decimal(0))]


def test_a_record_reads_back_and_its_lengths_are_checked():
    record = batches.encode(batches.Batch(
        (batches.Section("otel_traces", OTEL_TRACES_LAYOUT.header, 1, OTEL_TRACES_LAYOUT.encode_row(_trace_row("a"))),),
        batches.span_key(TRACE[0], TRACE[1])))
    decoded = batches.decode(record)
    assert decoded.keys() == [bytes.fromhex(TRACE[0] + TRACE[1])]
    assert decoded.sections[0].rows == 1 and decoded.sections[0].table == "otel_traces"
    with pytest.raises(ValueError, match="not a batch"):
        batches.decode(record[:-1])
    with pytest.raises(ValueError):
        batches.decode(b"something else entirely")


def test_a_record_keeps_the_calls_it_replaces_and_what_the_twin_index_needs_after_a_restart():
    replaced = Replacement(TRACE[0], "0000000000000aaa", TRACE[0], "0000000000000bbb")
    call = LlmCall(timestamp_ns=1_764_590_400_123_456_789, trace_id=TRACE[0], span_id="0000000000000bbb",
                   service_name="svc", instrumentation="openai",
                   request_model="gpt-4o", response_id="chatcmpl-1", usage_reported=True, input_tokens=10,
                   output_tokens=2, usage_source="provider", answered=True)
    facts = SpanFacts.of(call)
    record = batches.encode(batches.Batch(
        (batches.Section("otel_traces", OTEL_TRACES_LAYOUT.header, 1, OTEL_TRACES_LAYOUT.encode_row(_trace_row("a"))),),
        batches.span_key(TRACE[0], TRACE[1]), replacements=(replaced,), logged_calls=(facts.fields(),)))
    drained = batches.decode(record)  # the drain does not read the logged calls
    assert drained.replacements == (replaced,) and drained.logged_calls == ()
    assert [s.table for s in drained.sections] == ["otel_traces"]
    assert batches.join_rows([drained]) == {REPLACED_CALLS: [replaced]}
    restarted = batches.decode(record, logged_calls=True)
    assert SpanFacts.from_fields(restarted.logged_calls[0]).fields() == facts.fields()


def test_metric_and_log_records_are_python_rows_by_table():
    record = encode_rows({"otel_logs": [["log row"]]})
    assert batches.decode(record) == batches.Batch(rows={"otel_logs": [["log row"]]})
    assert batches.encode(batches.decode(record)) == record


def test_a_record_of_the_previous_format_is_stored_after_an_upgrade(clickhouse):
    """A log left by a crashed older version holds pickled rows: they are stored all the same."""
    old = pickle.dumps((1, [_trace_row("0000000000000aaa"), _trace_row("0000000000000bbb")], []))
    batch = batches.decode(old)
    assert batch.keys() == [bytes.fromhex(TRACE[0] + "0000000000000aaa"), bytes.fromhex(TRACE[0] + "0000000000000bbb")]
    ClickHouseWriter(clickhouse).write_sections(list(batch.sections), token="old-format")
    assert clickhouse.command("SELECT count() FROM otel_traces") == 2


def test_rows_of_another_layout_are_inserted_by_name_with_their_own_token(clickhouse):
    """After a migration adds a column, records logged before it still go in (the new column at
    its default), next to rows of the new layout, in one batch."""
    clickhouse.command("ALTER TABLE otel_traces ADD COLUMN IF NOT EXISTS Extra String DEFAULT 'none'")
    wider = Layout("otel_traces", (*zip(OTEL_TRACES_LAYOUT.names, OTEL_TRACES_LAYOUT.types), ("Extra", "String")))
    old = batches.Batch((batches.Section("otel_traces", OTEL_TRACES_LAYOUT.header, 1,
                                         OTEL_TRACES_LAYOUT.encode_row(_trace_row("0000000000000001"))),))
    new = batches.Batch((batches.Section("otel_traces", wider.header, 1,
                                         wider.encode_row([*_trace_row("0000000000000002"), "set"])),))
    sections = batches.join_sections([old, new, old])
    assert [section.rows for section in sections] == [2, 1]
    writer = ClickHouseWriter(clickhouse)
    writer.write_sections(sections, token="mixed")
    writer.write_sections(sections, token="mixed")  # a replay: stored once
    assert clickhouse.query("SELECT Extra, count() FROM otel_traces GROUP BY Extra ORDER BY Extra").result_rows == [
        ("none", 2), ("set", 1)]
