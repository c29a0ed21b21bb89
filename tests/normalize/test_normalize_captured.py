"""Reading the spans the real frameworks emit (captured in spans/*.json, see captured.py).

The fake OpenAI server answered every chat call with 1200 prompt tokens (1024 read from
the cache, 64 written), 300 completion tokens (128 reasoning); every streamed chat with
1500 prompt (1280 cached), 42 completion (10 reasoning); the Responses API with 900
input (512 cached), 250 output (200 reasoning). These tests check that each convention's
way of saying so is read, including the breakdowns a framework tucks away.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from captured import captured_calls


def by_scope(stack: str, scope_suffix: str):
    return [call for call in captured_calls(stack) if call.instrumentation.endswith(scope_suffix)]


def tokens(call):
    return (call.input_tokens, call.output_tokens, call.cache_read_tokens, call.cache_write_tokens,
            call.reasoning_tokens)


def test_pydantic_ai_reasoning_is_read_from_its_usage_details():
    chat, stream, failed = captured_calls("pydantic_ai")
    assert tokens(chat) == (1200, 300, 1024, 64, 128)
    assert tokens(stream) == (1500, 42, 1280, 0, 10)
    assert chat.response_id.startswith("chatcmpl-fake-") and chat.usage_source == "provider"
    assert stream.time_to_first_chunk is not None and stream.time_to_first_chunk > 0
    # pydantic-ai's operation.cost is its own estimate: kept aside, never the cost.
    assert (chat.reported_cost, chat.reported_cost_source, chat.billed_cost) == (Decimal("0.0002832"), "pydantic-ai",
                                                                                  None)
    assert failed.status == "Error" and failed.error_type == "pydantic_ai.exceptions.ModelServerError"


def test_logfire_reasoning_is_read_from_the_raw_usage_and_its_stream_log_is_a_stream():
    chat, request_half, stream_log, failed = captured_calls("logfire")
    assert tokens(chat) == (1200, 300, 1024, 64, 128)
    # A streamed call: a request span without usage, then a log span with it.
    assert not request_half.usage_reported and request_half.usage_source == "absent"
    assert tokens(stream_log) == (1500, 42, 1280, 0, 10) and stream_log.streaming
    assert failed.error_type == "openai.InternalServerError"


def test_litellm_cache_and_reasoning_come_from_its_usage_object():
    chat, stream, failed = captured_calls("litellm")
    assert tokens(chat) == (1200, 300, 1024, 64, 128)
    assert tokens(stream) == (1500, 42, 1280, 0, 10)
    assert stream.streaming  # llm.is_streaming = "True"
    assert (chat.reported_cost_source, chat.reported_cost) == ("litellm", Decimal("0.0002832"))
    assert chat.response_id.startswith("chatcmpl-fake-")
    # A failed call: LiteLLM's own call id is no response id.
    assert failed.status == "Error" and failed.response_id == ""


def test_openinference_failed_call_names_its_model_only_in_the_parameters():
    failed = [call for call in by_scope("langchain_openinference", "openai") if call.status == "Error"]
    assert len(failed) == 1
    assert failed[0].request_model == "gpt-4o-mini" and failed[0].error_type == "openai.InternalServerError"


def test_openinference_response_ids_come_from_the_answer_json():
    openai_chat = by_scope("langchain_openinference", "openai")[0]
    langchain_chat = by_scope("langchain_openinference", "langchain")[0]
    assert openai_chat.response_id.startswith("chatcmpl-fake-")
    assert langchain_chat.response_id == openai_chat.response_id  # the same call, seen twice


def test_agents_sdk_failed_response_span_is_a_call_without_a_model():
    ok, ok_streamed, failed = captured_calls("agents_openinference")
    assert tokens(ok) == tokens(ok_streamed) == (900, 250, 512, 0, 200)
    assert failed.status == "Error" and failed.model == "" and not failed.usage_reported


def test_openlit_tokens_it_counted_itself_are_marked_estimated():
    chat, stream, unreported, failed = captured_calls("openlit")
    assert (chat.usage_source, stream.usage_source) == ("provider", "provider")
    assert unreported.usage_source == "estimated" and unreported.streaming
    # Offline OpenLIT writes cost 0 for calls with tokens: that is no figure at all.
    assert chat.reported_cost is None


def test_openai_v2_error_type_is_the_class_name():
    *_, failed = captured_calls("openai_v2")
    assert failed.error_type == "openai.InternalServerError"


@pytest.mark.parametrize("tier", ["flex", "priority"])
def test_openinference_service_tier_is_read_from_the_request_parameters(tier):
    from normalize_spans import one_call

    call = one_call({"openinference.span.kind": "LLM", "llm.system": "openai", "llm.model_name": "o4-mini",
                     "llm.invocation_parameters": f'{{"model": "o4-mini", "service_tier": "{tier}"}}',
                     "llm.token_count.prompt": 10, "llm.token_count.completion": 5})
    assert call.service_tier == tier


def test_a_call_the_budget_guard_refused_has_its_own_status():
    from normalize_spans import one_call

    call = one_call({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                     "gen_ai.request.model": "gpt-4o-mini", "error.type": "BudgetExceededError"})
    assert call.status == "Refused"


@pytest.mark.parametrize("flag", ["True", "true", "1"])
def test_stream_flag_spellings(flag):
    from normalize_spans import one_call

    call = one_call({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                     "gen_ai.request.model": "gpt-4o-mini", "llm.is_streaming": flag})
    assert call.streaming
