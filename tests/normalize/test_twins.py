"""One call, one row: the twin index on the spans the real frameworks emit (captured.py)
and on the cases where telling twins from separate calls matters."""
from __future__ import annotations

import dataclasses

import pytest

from captured import REAL_CALLS, STACKS, captured_calls
from llmledger.processor.twins import TwinIndex


def rows_after(index: TwinIndex, batches) -> int:
    """How many llm_spans rows the verdicts leave: kept calls less the stored ones replaced."""
    rows = 0
    for batch in batches:
        for verdict in index.sort_out(batch):
            rows += (verdict.duplicate_of is None) - (verdict.replaces is not None)
    return rows


@pytest.mark.parametrize("stack", STACKS)
def test_one_row_per_real_call_in_one_request(stack):
    assert rows_after(TwinIndex(), [captured_calls(stack)]) == REAL_CALLS[stack]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("order", ["as sent", "reversed"])
def test_one_row_per_real_call_when_every_span_comes_alone(stack, order):
    calls = captured_calls(stack)
    if order == "reversed":
        calls.reverse()
    assert rows_after(TwinIndex(), [[call] for call in calls]) == REAL_CALLS[stack]


def test_the_span_with_the_fuller_usage_is_kept():
    calls = [c for c in captured_calls("langchain_openinference") if c.input_tokens == 1200]
    langchain, openai = sorted(calls, key=lambda c: c.instrumentation.endswith("openai"))
    # As an older LangChain tracer reports it: no cache or reasoning breakdown.
    langchain = dataclasses.replace(langchain, cache_read_tokens=0, cache_write_tokens=0, reasoning_tokens=0)
    index = TwinIndex()
    assert index.sort_out([langchain])[0].duplicate_of is None
    verdict = index.sort_out([openai])[0]  # arrives later, records the call better
    assert verdict.duplicate_of is None and verdict.replaces.span_id == langchain.span_id


def test_the_request_half_of_a_logfire_stream_joins_its_answer_even_if_the_answer_came_first():
    _, half, answer, _ = captured_calls("logfire")
    index = TwinIndex()
    index.sort_out([answer])
    assert index.sort_out([half])[0].duplicate_of.span_id == answer.span_id


def test_concurrent_identical_calls_seen_by_two_instrumentations_count_as_two():
    a1, a2 = [c for c in captured_calls("langchain_openinference") if c.input_tokens == 1200]
    # A second call with the very same usage at the very same time, its own response id.
    b1, b2 = (dataclasses.replace(c, span_id=c.span_id[::-1], response_id=c.response_id + "-b") for c in (a1, a2))
    assert rows_after(TwinIndex(), [[a1, b1, a2, b2]]) == 2


def test_the_same_instrumentation_never_reports_one_call_twice():
    # The same response id from one instrumentation in two traces: two calls (a fake
    # server that answers every call with one id, or a replay of a cached answer).
    chat = captured_calls("openai_v2")[0]
    again = dataclasses.replace(chat, trace_id="f" * 32, span_id="e" * 16,
                                timestamp_ns=chat.timestamp_ns + 5_000_000_000)
    assert rows_after(TwinIndex(), [[chat], [again]]) == 2


def test_a_twin_arriving_after_the_wait_window_is_a_call_of_its_own():
    now = [0]
    index = TwinIndex(wait_ns=60_000_000_000, clock=lambda: now[0])
    first, second = [c for c in captured_calls("langchain_openinference") if c.input_tokens == 1200]
    index.sort_out([first])
    now[0] += 61_000_000_000
    assert index.sort_out([second])[0].duplicate_of is None
    assert len(index) == 1  # the first was forgotten


def test_calls_remembered_after_a_restart_still_meet_their_twins():
    first, second = [c for c in captured_calls("llamaindex_openinference") if c.input_tokens == 1500]
    index = TwinIndex()
    index.remember_stored([first])
    verdict = index.sort_out([second])[0]
    assert (verdict.duplicate_of or verdict.replaces).span_id == first.span_id


def test_the_index_is_bounded():
    index = TwinIndex(max_entries=2)
    calls = captured_calls("pydantic_ai")
    index.sort_out(calls)
    assert len(index) == 2


def test_a_request_the_log_refused_is_forgotten_so_its_retry_is_counted():
    chat, stream, _ = captured_calls("pydantic_ai")
    index = TwinIndex()
    undo: list = []
    index.sort_out([chat, stream], undo)
    index.revert(undo)
    assert len(index) == 0
    assert [v.duplicate_of for v in index.sort_out([chat, stream])] == [None, None]


def test_a_refused_replacement_is_undone():
    _, half, answer, _ = captured_calls("logfire")
    index = TwinIndex()
    index.sort_out([half])  # stored
    undo: list = []
    assert index.sort_out([answer], undo)[0].replaces.span_id == half.span_id
    index.revert(undo)
    assert index.sort_out([answer])[0].replaces.span_id == half.span_id  # the retry replaces it again
