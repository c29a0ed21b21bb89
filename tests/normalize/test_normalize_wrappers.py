"""A framework span that repeats its child's usage (LangChain's ChatOpenAI around the openai
SDK's span) is stored as a span but not counted as a second LLM call."""
from __future__ import annotations

import pytest
from normalize_spans import SpanRecorder, normalize
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from llmledger.processor.normalize import WrapperFilter

# LangChain's chat model span, as OpenInference's LangChain instrumentation records it.
LANGCHAIN_WRAPPER = {
    "openinference.span.kind": "LLM",
    "llm.model_name": "gpt-4o-mini",
    "llm.provider": "openai",
    "llm.system": "openai",
    "llm.token_count.prompt": 1200,
    "llm.token_count.completion": 300,
    "llm.token_count.total": 1500,
}
# The openai SDK's span inside it, in the GenAI conventions.
SDK_CALL = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300,
}


def wrapped_call(recorder: SpanRecorder, wrapper: dict = LANGCHAIN_WRAPPER, child: dict = SDK_CALL):
    """The wrapper span with the SDK span as its direct child (the child ends first)."""
    with recorder.tracer.start_as_current_span("ChatOpenAI", kind=SpanKind.INTERNAL, attributes=wrapper):
        recorder.span("chat gpt-4o-mini", child)


def names(result) -> list[str]:
    return [result.trace_rows[index][5] for index in result.call_rows]


@pytest.mark.parametrize("reverse", [False, True], ids=["child first", "wrapper first"])
def test_wrapper_in_the_same_request_is_not_a_call(reverse):
    recorder = SpanRecorder()
    wrapped_call(recorder)
    result = normalize(recorder.request(reverse=reverse))
    assert len(result.trace_rows) == 2  # both spans are stored
    assert names(result) == ["chat gpt-4o-mini"]
    assert result.calls[0].response_model == "gpt-4o-mini-2024-07-18"


def test_wrapper_arriving_after_its_child_is_not_a_call():
    memory = WrapperFilter()
    recorder = SpanRecorder()
    tracer = recorder.tracer
    with tracer.start_as_current_span("ChatOpenAI", kind=SpanKind.INTERNAL, attributes=LANGCHAIN_WRAPPER):
        recorder.span("chat gpt-4o-mini", SDK_CALL)
        first = normalize(recorder.request(), wrappers=memory)  # the child is exported while the wrapper runs
    second = normalize(recorder.request(), wrappers=memory)
    assert names(first) == ["chat gpt-4o-mini"]
    assert (len(second.trace_rows), second.calls) == (1, [])


def test_wrapper_with_other_usage_is_a_call_too():
    # e.g. a wrapper that retried and summed two calls' usage: not a repeat of its child
    recorder = SpanRecorder()
    summed = {**LANGCHAIN_WRAPPER, "llm.token_count.prompt": 2400, "llm.token_count.completion": 600}
    wrapped_call(recorder, wrapper=summed)
    assert names(normalize(recorder.request())) == ["chat gpt-4o-mini", "ChatOpenAI"]


def test_wrapper_without_usage_is_not_a_call():
    recorder = SpanRecorder()
    without_usage = {key: value for key, value in LANGCHAIN_WRAPPER.items() if not key.startswith("llm.token_count")}
    wrapped_call(recorder, wrapper=without_usage)
    assert names(normalize(recorder.request())) == ["chat gpt-4o-mini"]


def test_nested_wrappers_are_all_recognised():
    recorder = SpanRecorder()
    tracer = recorder.tracer
    with tracer.start_as_current_span("LlamaIndex OpenAI", attributes={**LANGCHAIN_WRAPPER, "llm.provider": "openai"}):
        wrapped_call(recorder)
    assert names(normalize(recorder.request())) == ["chat gpt-4o-mini"]


def test_sibling_calls_under_an_agent_are_all_counted():
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("invoke_agent triage", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 2400, "gen_ai.usage.output_tokens": 600}):
        recorder.span("chat one", SDK_CALL)
        recorder.span("chat two", SDK_CALL)
    result = normalize(recorder.request())
    assert names(result) == ["chat one", "chat two"]


def test_calls_in_other_traces_do_not_make_wrappers():
    memory = WrapperFilter()
    first = SpanRecorder()
    wrapped_call(first)
    normalize(first.request(), wrappers=memory)
    second = SpanRecorder()
    second.span("ChatOpenAI", LANGCHAIN_WRAPPER)  # same usage, but a root span of another trace
    assert names(normalize(second.request(), wrappers=memory)) == ["ChatOpenAI"]


def test_memory_is_bounded_and_forgets_the_oldest():
    memory = WrapperFilter(max_entries=2)  # one child call takes two entries
    recorder = SpanRecorder()
    wrapper = recorder.tracer.start_span("ChatOpenAI", kind=SpanKind.INTERNAL, attributes=LANGCHAIN_WRAPPER)
    recorder.span("chat gpt-4o-mini", SDK_CALL, context=trace.set_span_in_context(wrapper))
    normalize(recorder.request(), wrappers=memory)
    other = SpanRecorder()
    wrapped_call(other, child={**SDK_CALL, "gen_ai.usage.input_tokens": 7})
    normalize(other.request(), wrappers=memory)  # its child pushes the first child out
    assert len(memory) == 2
    wrapper.end()
    late_wrapper = normalize(recorder.request(), wrappers=memory)
    assert names(late_wrapper) == ["ChatOpenAI"]  # forgotten, so counted


def test_memory_size_must_be_positive():
    with pytest.raises(ValueError, match="max_entries"):
        WrapperFilter(max_entries=0)
