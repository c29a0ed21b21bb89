"""Invalid spans are rejected (stored nowhere, counted, and explained); the rest of the
request still goes through."""
from __future__ import annotations

import time

import pytest
from normalize_spans import SECOND_NS, SpanRecorder, normalize, raw_request, raw_span
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

DAY_NS = 86_400 * SECOND_NS
JAN_1_2000_NS = 946_684_800 * SECOND_NS


def span_problems():
    now = time.time_ns()
    return {
        "no trace id": (raw_span(trace_id=b""), "trace id is missing"),
        "short trace id": (raw_span(trace_id=bytes(range(1, 9))), "trace id must be 16 bytes, got 8"),
        "zero trace id": (raw_span(trace_id=bytes(16)), "trace id is all zeros"),
        "no span id": (raw_span(span_id=b""), "span id is missing"),
        "long span id": (raw_span(span_id=bytes(range(1, 17))), "span id must be 8 bytes, got 16"),
        "zero span id": (raw_span(span_id=bytes(8)), "span id is all zeros"),
        "bad parent id": (raw_span(parent_span_id=b"\x01\x02\x03\x04"), "parent span id must be 8 bytes, got 4"),
        "ends before it starts": (
            raw_span(start_time_unix_nano=now - SECOND_NS, end_time_unix_nano=now - 2 * SECOND_NS),
            "end time is before start time",
        ),
        "no start time": (raw_span(start_time_unix_nano=0, end_time_unix_nano=SECOND_NS), "start time is missing"),
        "started in 1999": (raw_span(start_time_unix_nano=JAN_1_2000_NS - SECOND_NS, end_time_unix_nano=JAN_1_2000_NS),
                            "start time is before 2000-01-01"),
        "starts in two days": (raw_span(start_time_unix_nano=now + 2 * DAY_NS, end_time_unix_nano=now + 2 * DAY_NS),
                               "start time is more than a day in the future"),
        "ends in two days": (raw_span(start_time_unix_nano=now, end_time_unix_nano=now + 2 * DAY_NS),
                             "end time is more than a day in the future"),
    }


@pytest.mark.parametrize("case", list(span_problems()))
def test_invalid_span_is_rejected_and_the_rest_accepted(case):
    bad, reason = span_problems()[case]
    good = raw_span(name="good", span_id=bytes.fromhex("00000000000000aa"))
    result = normalize(raw_request(bad, good))
    assert result.rejected == 1
    assert [row[5] for row in result.trace_rows] == ["good"]
    assert len(result.errors) == 1 and result.errors[0].endswith(reason)
    assert "'raw span'" in result.errors[0]  # names the span


def test_boundaries_are_accepted():
    now = time.time_ns()
    result = normalize(raw_request(
        raw_span(start_time_unix_nano=JAN_1_2000_NS, end_time_unix_nano=JAN_1_2000_NS),  # exactly 2000-01-01
        raw_span(start_time_unix_nano=now + DAY_NS - SECOND_NS, end_time_unix_nano=now + DAY_NS - SECOND_NS),
    ))
    assert (result.rejected, len(result.trace_rows)) == (0, 2)


LLM_SPAN = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}


@pytest.mark.parametrize("key, value, reason", [
    ("gen_ai.usage.input_tokens", -5, "gen_ai.usage.input_tokens is negative (-5)"),
    ("gen_ai.usage.output_tokens", 100_000_001,
     "gen_ai.usage.output_tokens is 100000001, more than 100,000,000 tokens in one call"),
    ("gen_ai.usage.input_tokens", "lots", "gen_ai.usage.input_tokens is not a whole number of tokens ('lots')"),
    ("gen_ai.usage.input_tokens", 12.5, "gen_ai.usage.input_tokens is not a whole number of tokens ('12.5')"),
    ("gen_ai.usage.input_tokens", True, "gen_ai.usage.input_tokens is not a whole number of tokens ('true')"),
    ("llm.token_count.prompt", "", "llm.token_count.prompt is not a whole number of tokens ('')"),
    ("gen_ai.usage.cache_read.input_tokens", -1, "gen_ai.usage.cache_read.input_tokens is negative (-1)"),
    ("gen_ai.usage.reasoning.output_tokens", "1e9", "not a whole number"),
])
def test_bad_token_counts_reject_the_span(key, value, reason):
    recorder = SpanRecorder()
    recorder.span("chat gpt-4o", {**LLM_SPAN, key: value})
    recorder.span("fine", {**LLM_SPAN, "gen_ai.usage.input_tokens": 10})
    result = normalize(recorder.request())
    assert result.rejected == 1
    assert [row[5] for row in result.trace_rows] == ["fine"]  # stored nowhere
    assert [call.input_tokens for call in result.calls] == [10]
    assert reason in result.errors[0]


def test_the_largest_plausible_count_is_accepted():
    recorder = SpanRecorder()
    recorder.span("chat", {**LLM_SPAN, "gen_ai.usage.input_tokens": 100_000_000})
    assert normalize(recorder.request()).calls[0].input_tokens == 100_000_000


def test_unknown_attributes_are_not_a_reason_to_reject():
    span = raw_span(attributes=[
        KeyValue(key="my.custom.thing", value=AnyValue(bytes_value=b"\xff")),
        KeyValue(key="", value=AnyValue(string_value="no key")),
        KeyValue(key="gen_ai.request.model", value=AnyValue(int_value=5)),
    ])
    result = normalize(raw_request(span))
    assert (result.rejected, len(result.trace_rows)) == (0, 1)


def test_errors_are_capped_but_every_rejection_counted():
    spans = [raw_span(name=f"bad {i}", trace_id=b"") for i in range(15)]
    result = normalize(raw_request(*spans))
    assert result.rejected == 15
    assert len(result.errors) == 10
    assert result.errors[0] == "span 'bad 0' (eee19b7ec3c1b174): trace id is missing"
