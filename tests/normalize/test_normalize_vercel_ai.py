"""The Vercel AI SDK's spans: the captured ones of its real Node.js packages
(spans/vercel_ai.json: generateText, streamText and a call the server failed through
@ai-sdk/openai, generateText and streamText through @ai-sdk/anthropic), and the other
providers' and versions' spellings."""
from __future__ import annotations

from decimal import Decimal

import pytest
from captured import captured_calls, captured_requests
from normalize_spans import SpanRecorder, normalize, one_call

from llmledger.processor.normalize.trace_rows import SPAN_ATTRIBUTES_INDEX
from llmledger.processor.normalize.values import attributes_text
from llmledger.processor.pricing import Pricer


def tokens(call):
    return (call.input_tokens, call.output_tokens, call.cache_read_tokens, call.cache_write_tokens,
            call.reasoning_tokens)


def test_each_provider_call_is_one_call_and_the_function_spans_are_not():
    spans = [span.name for request in captured_requests("vercel_ai") for resource in request.resource_spans
             for scope in resource.scope_spans for span in scope.spans]
    assert sorted(spans) == sorted(["ai.generateText", "ai.generateText.doGenerate"] * 3
                                   + ["ai.streamText", "ai.streamText.doStream"] * 2)
    chat, stream, failed, _, _ = captured_calls("vercel_ai")
    # The breakdown is only under ai.usage.inputTokenDetails / outputTokenDetails.
    assert tokens(chat) == (1200, 300, 1024, 64, 128) and not chat.streaming
    assert tokens(stream) == (1500, 42, 1280, 0, 10) and stream.streaming
    assert {(c.provider, c.operation, c.request_model) for c in (chat, stream, failed)} == {
        ("openai", "chat", "gpt-4o-mini")}  # the provider id "openai.chat" is the provider openai
    assert chat.response_model == "gpt-4o-mini-2024-07-18" and chat.response_id.startswith("chatcmpl-fake-")
    assert failed.status == "Error" and not failed.usage_reported


def test_anthropic_input_counts_the_cached_tokens_as_openai_does():
    """The SDK's input total for Anthropic is its input_tokens plus the cache reads and
    writes (100 + 2000 + 500), like OpenAI's prompt_tokens: read as such, not as Anthropic's."""
    *_, claude, claude_stream = captured_calls("vercel_ai")
    for call in (claude, claude_stream):
        assert (call.provider, call.request_model, call.response_model) == (
            "anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929")
        assert tokens(call) == (2600, 50, 2000, 500, 0)
    assert (claude.streaming, claude_stream.streaming) == (False, True)


def test_the_telemetry_metadata_and_function_attribute_the_call():
    # The app set metadata {userId: "u-42", "llmledger.team": "web"} and functionId "greeting".
    for call in captured_calls("vercel_ai"):
        assert (call.app, call.user_id, call.team, call.feature) == ("vercel-ai", "u-42", "web", "greeting")


def test_the_captured_calls_cost_what_the_providers_charge():
    # gpt-4o-mini: 0.15 in, 0.075 cached in, 0.60 out per 1M tokens; written tokens as input.
    # 176 x 0.15 + 1024 x 0.075 + 300 x 0.60 = 283.2 per 1M; 220 x 0.15 + 1280 x 0.075 + 42 x 0.60 = 154.2
    # claude-sonnet-4-5: 3.00 in, 0.30 cache read, 3.75 cache write, 15.00 out per 1M tokens.
    # 100 x 3 + 2000 x 0.30 + 500 x 3.75 + 50 x 15 = 300 + 600 + 1875 + 750 = 3525 per 1M
    pricer = Pricer(warn_unpriced=False)
    calls = captured_calls("vercel_ai")
    for call in calls:
        pricer.price(call)
    assert [call.cost for call in calls] == [Decimal("0.0002832"), Decimal("0.0001542"), None,
                                             Decimal("0.003525"), Decimal("0.003525")]


def test_the_span_is_stored_as_it_came():
    """The standard names are for reading the call: otel_traces keeps what the SDK sent."""
    request = captured_requests("vercel_ai")[0]
    result = normalize(request)
    sent = [attributes_text(span.attributes) for resource in request.resource_spans
            for scope in resource.scope_spans for span in scope.spans]
    stored = [row[SPAN_ATTRIBUTES_INDEX] for row in result.trace_rows]
    assert stored == sent


@pytest.mark.parametrize("provider_id, provider", [
    ("anthropic.messages", "anthropic"),
    ("google.generative-ai", "gcp.gemini"),
    ("google.vertex.chat", "gcp.vertex_ai"),
    ("amazon-bedrock", "aws.bedrock"),
    ("azure.responses", "azure.ai.openai"),
    ("mistral.chat", "mistral_ai"),
    ("xai.chat", "x_ai"),
    ("groq.chat", "groq"),
    ("openai.responses", "openai"),
])
def test_provider_ids_are_gen_ai_provider_names(provider_id, provider):
    call = one_call({"ai.operationId": "ai.generateText.doGenerate", "ai.model.provider": provider_id,
                     "ai.model.id": "some-model", "gen_ai.system": provider_id,
                     "gen_ai.request.model": "some-model", "gen_ai.usage.input_tokens": 10,
                     "gen_ai.usage.output_tokens": 5}, name="ai.generateText.doGenerate")
    assert call.provider == provider


def test_ai_sdk_5_names_its_cache_and_reasoning_counts_differently():
    call = one_call({"ai.operationId": "ai.streamObject.doStream", "ai.model.provider": "openai.chat",
                     "gen_ai.system": "openai.chat", "gen_ai.request.model": "gpt-4o-mini",
                     "gen_ai.usage.input_tokens": 1500, "gen_ai.usage.output_tokens": 42,
                     "ai.usage.cachedInputTokens": 1280, "ai.usage.reasoningTokens": 10},
                    name="ai.streamObject.doStream")
    assert tokens(call) == (1500, 42, 1280, 0, 10) and call.streaming and call.operation == "chat"


def test_an_embedding_call_is_read_from_the_sdk_names_alone():
    # text-embedding-3-small: 0.02 per 1M input tokens. 5,000 x 0.02 / 1M = 0.0001
    call = one_call({"ai.operationId": "ai.embedMany.doEmbed", "ai.model.provider": "openai.embedding",
                     "ai.model.id": "text-embedding-3-small", "ai.usage.tokens": 5000,
                     "ai.telemetry.metadata.userId": "u-7"}, name="ai.embedMany.doEmbed")
    assert (call.operation, call.provider, call.request_model, call.input_tokens, call.user_id) == (
        "embeddings", "openai", "text-embedding-3-small", 5000, "u-7")
    Pricer(warn_unpriced=False).price(call)
    assert call.cost == Decimal("0.0001")


def test_the_function_span_with_summed_usage_is_no_call():
    recorder = SpanRecorder()
    recorder.span("ai.generateText", {"ai.operationId": "ai.generateText", "ai.model.provider": "openai.chat",
                                      "ai.model.id": "gpt-4o-mini", "ai.usage.inputTokens": 2400,
                                      "ai.usage.outputTokens": 600})
    assert normalize(recorder.request()).calls == []


def test_the_span_own_attribution_wins_over_metadata():
    call = one_call({"ai.operationId": "ai.generateText.doGenerate", "ai.model.provider": "openai.chat",
                     "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 1,
                     "ai.telemetry.functionId": "summarize", "llmledger.feature": "digest",
                     "ai.telemetry.metadata.llmledger.tag.tier": "gold", "ai.telemetry.metadata.unrelated": "x"},
                    name="ai.generateText.doGenerate")
    assert (call.feature, call.tags) == ("digest", {"tier": "gold"})
