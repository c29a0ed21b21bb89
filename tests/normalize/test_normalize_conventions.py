"""One LLM call per convention, with the attributes those instrumentations emit, read
into the same LlmCall: input includes cache read and write, output includes reasoning."""
from __future__ import annotations

from decimal import Decimal

import pytest
from normalize_spans import SpanRecorder, normalize, one_call
from opentelemetry.trace import Status, StatusCode


def test_current_genai_conventions():
    call = one_call({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "o4-mini",
        "gen_ai.request.stream": True,
        "server.address": "api.openai.com",
        "server.port": 443,
        "gen_ai.response.model": "o4-mini-2025-04-16",
        "gen_ai.response.id": "chatcmpl-Bx1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 2000,
        "gen_ai.usage.output_tokens": 900,
        "gen_ai.usage.cache_read.input_tokens": 1536,
        "gen_ai.usage.reasoning.output_tokens": 640,
        "gen_ai.response.time_to_first_chunk": 0.42,
        "openai.request.service_tier": "flex",
        "openai.response.service_tier": "flex",
    }, name="chat o4-mini")
    assert (call.provider, call.operation) == ("openai", "chat")
    assert (call.request_model, call.response_model) == ("o4-mini", "o4-mini-2025-04-16")
    assert call.model == "o4-mini-2025-04-16"
    assert (call.server_address, call.service_tier, call.streaming) == ("api.openai.com", "flex", True)
    assert (call.input_tokens, call.output_tokens, call.cache_read_tokens, call.cache_write_tokens,
            call.reasoning_tokens) == (2000, 900, 1536, 0, 640)
    assert call.usage_reported is True
    assert call.time_to_first_chunk == 0.42
    assert call.reported_cost is None
    assert (call.status, call.error_type) == ("Unset", "")


@pytest.mark.parametrize("cache_write_key", [
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",  # the older spelling
])
def test_anthropic_with_cache_write(cache_write_key):
    call = one_call({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-20250514",
        "gen_ai.usage.input_tokens": 5250,  # 50 uncached + 4000 read + 1200 written
        "gen_ai.usage.output_tokens": 400,
        "gen_ai.usage.cache_read.input_tokens": 4000,
        cache_write_key: 1200,
    })
    assert call.provider == "anthropic"
    assert (call.input_tokens, call.cache_read_tokens, call.cache_write_tokens) == (5250, 4000, 1200)
    assert call.output_tokens == 400


def test_deprecated_genai_names():
    call = one_call({
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "az.ai.openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.prompt_tokens": 812,
        "gen_ai.usage.completion_tokens": 97,
        "gen_ai.openai.request.service_tier": "priority",
    })
    assert call.provider == "azure.ai.openai"
    assert (call.input_tokens, call.output_tokens) == (812, 97)
    assert call.service_tier == "priority"


@pytest.mark.parametrize("system, provider", [
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("Anthropic", "anthropic"),  # OpenLLMetry capitalizes
    ("vertex_ai", "gcp.vertex_ai"),
    ("gemini", "gcp.gemini"),
    ("az.ai.openai", "azure.ai.openai"),
    ("az.ai.inference", "azure.ai.inference"),
    ("aws.bedrock", "aws.bedrock"),
    ("xai", "x_ai"),
    ("mistral_ai", "mistral_ai"),
    ("cohere", "cohere"),
    ("ollama", "ollama"),  # not in the registry: kept
])
def test_deprecated_system_maps_to_provider_name(system, provider):
    call = one_call({"gen_ai.system": system, "gen_ai.request.model": "some-model"})
    assert call.provider == provider


def test_provider_name_wins_over_deprecated_system():
    call = one_call({"gen_ai.provider.name": "gcp.vertex_ai", "gen_ai.system": "gemini",
                     "gen_ai.request.model": "gemini-2.5-pro"})
    assert call.provider == "gcp.vertex_ai"


def test_openllmetry_openai():
    call = one_call({
        "gen_ai.system": "openai",
        "llm.request.type": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.openai.api_base": "https://api.openai.com/v1/",
        "llm.is_streaming": True,
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-Ax9",
        "gen_ai.usage.prompt_tokens": 3000,  # OpenAI counts cached tokens inside the prompt
        "gen_ai.usage.completion_tokens": 250,
        "llm.usage.total_tokens": 3250,
        "gen_ai.usage.cache_read_input_tokens": 2048,
    }, name="openai.chat")
    assert (call.provider, call.operation, call.streaming) == ("openai", "chat", True)
    assert (call.input_tokens, call.cache_read_tokens, call.output_tokens) == (3000, 2048, 250)


def test_openllmetry_anthropic_input_already_includes_cache():
    call = one_call({
        "gen_ai.system": "Anthropic",
        "llm.request.type": "completion",
        "gen_ai.request.model": "claude-3-5-haiku-20241022",
        "gen_ai.response.model": "claude-3-5-haiku-20241022",
        "gen_ai.usage.input_tokens": 5250,  # OpenLLMetry sums 50 uncached + 4000 read + 1200 created
        "gen_ai.usage.output_tokens": 400,
        "llm.usage.total_tokens": 5650,
        "gen_ai.usage.cache_read_input_tokens": 4000,
        "gen_ai.usage.cache_creation_input_tokens": 1200,
    }, name="anthropic.chat")
    assert (call.provider, call.operation) == ("anthropic", "text_completion")
    assert (call.input_tokens, call.cache_read_tokens, call.cache_write_tokens) == (5250, 4000, 1200)
    assert call.output_tokens == 400


def test_openinference_llm():
    call = one_call({
        "openinference.span.kind": "LLM",
        "llm.model_name": "claude-3-5-haiku-20241022",
        "llm.provider": "anthropic",
        "llm.system": "anthropic",
        "llm.invocation_parameters": '{"max_tokens": 1024, "stream": true}',
        "input.value": '{"messages": [{"role": "user", "content": "hi"}]}',
        "output.value": "Hello!",
        "llm.token_count.prompt": 3100,  # OpenInference sums 100 uncached + 3000 read
        "llm.token_count.completion": 200,
        "llm.token_count.total": 3300,
        "llm.token_count.prompt_details.cache_read": 3000,
        "llm.token_count.prompt_details.cache_write": 0,
    }, name="Messages")
    assert (call.provider, call.operation, call.request_model, call.streaming) == (
        "anthropic", "chat", "claude-3-5-haiku-20241022", True)
    assert (call.input_tokens, call.cache_read_tokens, call.output_tokens) == (3100, 3000, 200)


def test_openinference_reasoning_tokens():
    call = one_call({
        "openinference.span.kind": "LLM",
        "llm.model_name": "o4-mini-2025-04-16",
        "llm.provider": "openai",
        "llm.system": "openai",
        "llm.invocation_parameters": '{"model": "o4-mini", "reasoning_effort": "high"}',
        "llm.token_count.prompt": 180,
        "llm.token_count.completion": 700,
        "llm.token_count.completion_details.reasoning": 512,
    })
    assert (call.output_tokens, call.reasoning_tokens, call.streaming) == (700, 512, False)


def test_openinference_embedding():
    call = one_call({
        "openinference.span.kind": "EMBEDDING",
        "embedding.model_name": "text-embedding-3-small",
        "llm.provider": "openai",
        "llm.system": "openai",
        "llm.token_count.prompt": 42,
        "llm.token_count.total": 42,
    }, name="CreateEmbeddings")
    assert (call.operation, call.request_model, call.input_tokens, call.output_tokens) == (
        "embeddings", "text-embedding-3-small", 42, 0)


@pytest.mark.parametrize("provider, system, expected", [
    ("google", "vertexai", "gcp.vertex_ai"),
    ("google", "", "gcp.gemini"),
    ("azure", "openai", "azure.ai.openai"),
    ("aws", "anthropic", "aws.bedrock"),
    ("mistralai", "mistralai", "mistral_ai"),
    ("xai", "", "x_ai"),
])
def test_openinference_provider_names(provider, system, expected):
    attributes = {"openinference.span.kind": "LLM", "llm.model_name": "m", "llm.provider": provider}
    if system:
        attributes["llm.system"] = system
    assert one_call(attributes).provider == expected


def test_openlit_anthropic_input_excludes_cache():
    call = one_call({
        "telemetry.sdk.name": "openlit",
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-20250514",
        "gen_ai.response.model": "claude-sonnet-4-20250514",
        "gen_ai.request.is_stream": False,
        # Anthropic's own count, cache excluded; larger than the cache, so only knowing
        # the source tells that the cache must be added.
        "gen_ai.usage.input_tokens": 6000,
        "gen_ai.usage.output_tokens": 400,
        "gen_ai.usage.cache_read_input_tokens": 4000,
        "gen_ai.usage.cache_creation_input_tokens": 1200,
        # 6000 x 3.00 + 4000 x 0.30 + 1200 x 3.75 + 400 x 15 per 1M
        # = 18000 + 1200 + 4500 + 6000 = 29700 / 1M
        "gen_ai.usage.cost": 0.0297,
        "gen_ai.server.time_to_first_token": 0.8,
    })
    # 6000 uncached + 4000 read + 1200 written
    assert (call.input_tokens, call.cache_read_tokens, call.cache_write_tokens) == (11200, 4000, 1200)
    assert call.reported_cost == Decimal("0.0297")
    assert call.time_to_first_chunk == 0.8


def test_openlit_openai_cost_is_exact():
    call = one_call({
        "telemetry.sdk.name": "openlit",
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 275,
        # 1000 x 0.15 / 1M = 0.00015; 275 x 0.60 / 1M = 0.000165; total 0.000315.
        # As a float it is 0.000314999...; the call must carry the number as sent.
        "gen_ai.usage.cost": 0.000315,
    })
    assert call.reported_cost == Decimal("0.000315")
    assert call.input_tokens == 1000  # OpenAI's prompt count includes any cache: not adjusted


def test_openinference_reported_cost():
    call = one_call({
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4.1-mini",
        "llm.token_count.prompt": 2000,
        "llm.token_count.completion": 187,
        # 2000 x 0.40 / 1M = 0.0008; 187 x 1.60 / 1M = 0.0002992; total 0.0010992.
        "llm.cost.total": "0.0010992",
    })
    assert call.reported_cost == Decimal("0.0010992")


def test_zero_reported_cost_for_a_call_with_tokens_is_no_price():
    # OpenLIT writes 0 when the model is missing from its price list.
    call = one_call({"telemetry.sdk.name": "openlit", "gen_ai.operation.name": "chat", "gen_ai.system": "openai",
                     "gen_ai.request.model": "my-finetune", "gen_ai.usage.input_tokens": 10,
                     "gen_ai.usage.output_tokens": 5, "gen_ai.usage.cost": 0.0})
    assert call.reported_cost is None


@pytest.mark.parametrize("cost", ["not a number", "-0.5", "NaN"])
def test_unusable_reported_cost_is_ignored(cost):
    call = one_call({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.cost": cost})
    assert call.reported_cost is None


def test_cache_larger_than_input_means_input_excluded_it():
    # Anthropic's raw counts passed through unchanged: input_tokens is only the uncached part.
    call = one_call({
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-20250514",
        "gen_ai.usage.input_tokens": 50,
        "gen_ai.usage.output_tokens": 400,
        "gen_ai.usage.cache_read.input_tokens": 4000,
        "gen_ai.usage.cache_write.input_tokens": 1200,
    })
    assert call.input_tokens == 5250  # 50 + 4000 + 1200


def test_reasoning_larger_than_output_means_output_excluded_it():
    # Gemini reports thoughts apart from the candidates' tokens.
    call = one_call({"gen_ai.provider.name": "gcp.gemini", "gen_ai.request.model": "gemini-2.5-pro",
                     "gen_ai.usage.input_tokens": 900, "gen_ai.usage.output_tokens": 120,
                     "gen_ai.usage.reasoning.output_tokens": 800})
    assert (call.output_tokens, call.reasoning_tokens) == (920, 800)  # 120 + 800


def test_missing_usage_is_not_estimated():
    call = one_call({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                     "gen_ai.request.model": "gpt-4o"})
    assert call.usage_reported is False
    assert (call.input_tokens, call.output_tokens, call.cache_read_tokens) == (0, 0, 0)


def test_numeric_strings_are_token_counts():
    call = one_call({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
                     "gen_ai.usage.input_tokens": "1200", "gen_ai.usage.output_tokens": 3.0})
    assert (call.input_tokens, call.output_tokens) == (1200, 3)


@pytest.mark.parametrize("response_tier, request_tier, expected", [
    ("default", "flex", ""),  # the tier that served the call wins; OpenAI's "default" is standard
    (None, "auto", ""),
    (None, "priority", "priority"),
    ("flex", "auto", "flex"),
    ("scale", None, "scale"),
])
def test_service_tier(response_tier, request_tier, expected):
    attributes = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "o4-mini"}
    if response_tier:
        attributes["openai.response.service_tier"] = response_tier
    if request_tier:
        attributes["openai.request.service_tier"] = request_tier
    assert one_call(attributes).service_tier == expected


def test_failed_call_status_and_error_type():
    recorder = SpanRecorder()
    span = recorder.tracer.start_span("chat gpt-4o", attributes={
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
        "error.type": "RateLimitError"})
    span.set_status(Status(StatusCode.ERROR, "429 Too Many Requests"))
    span.end()
    proto = recorder.exporter.get_finished_spans()[0]
    [call] = normalize(recorder.request()).calls
    assert (call.status, call.error_type, call.usage_reported) == ("Error", "RateLimitError", False)
    assert call.duration_ns == proto.end_time - proto.start_time
    assert call.timestamp_ns == proto.start_time
    assert call.trace_id == format(proto.context.trace_id, "032x")
    assert call.span_id == format(proto.context.span_id, "016x")


NOT_CALLS = {
    "agent with summed usage": {"gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "openai",
                                "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 9000,
                                "gen_ai.usage.output_tokens": 700},
    "create agent": {"gen_ai.operation.name": "create_agent", "gen_ai.request.model": "gpt-4o"},
    "tool": {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search", "gen_ai.request.model": "gpt-4o"},
    "openinference agent": {"openinference.span.kind": "AGENT", "llm.model_name": "gpt-4o",
                            "llm.token_count.prompt": 9000, "llm.token_count.completion": 700},
    "openinference chain": {"openinference.span.kind": "CHAIN", "llm.model_name": "gpt-4o",
                            "llm.token_count.prompt": 9000},
    "openinference tool": {"openinference.span.kind": "TOOL", "llm.model_name": "gpt-4o", "tool.name": "search"},
    "openinference retriever": {"openinference.span.kind": "RETRIEVER", "llm.token_count.prompt": 12,
                                "embedding.model_name": "text-embedding-3-small"},
    "traceloop workflow": {"traceloop.span.kind": "workflow", "gen_ai.request.model": "gpt-4o",
                           "gen_ai.usage.input_tokens": 9000, "llm.request.type": "chat"},
    "traceloop task": {"traceloop.span.kind": "task", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o"},
    "traceloop agent": {"traceloop.span.kind": "agent", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o"},
    "traceloop tool": {"traceloop.span.kind": "tool", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o"},
    "openlit framework": {"gen_ai.operation.name": "framework", "gen_ai.system": "langchain",
                          "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1200},
    "no model": {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 10},
    "no LLM marker": {"gen_ai.request.model": "gpt-4o", "http.request.method": "POST"},
    "plain http": {"http.request.method": "POST", "url.full": "https://api.openai.com/v1/chat/completions"},
}


@pytest.mark.parametrize("attributes", NOT_CALLS.values(), ids=NOT_CALLS.keys())
def test_spans_that_are_not_llm_calls_are_only_stored(attributes):
    recorder = SpanRecorder()
    recorder.span("not a call", attributes)
    result = normalize(recorder.request())
    assert (len(result.trace_rows), result.calls, result.call_rows, result.rejected) == (1, [], [], 0)


def test_call_rows_point_at_each_calls_span():
    recorder = SpanRecorder()
    recorder.span("workflow", {"traceloop.span.kind": "workflow"})
    recorder.span("chat a", {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"})
    recorder.span("http", {"http.request.method": "GET"})
    recorder.span("chat b", {"gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-3-5-haiku"})
    result = normalize(recorder.request())
    names = [row[5] for row in result.trace_rows]
    assert [names[index] for index in result.call_rows] == ["chat a", "chat b"]
    assert [call.provider for call in result.calls] == ["openai", "anthropic"]
