"""The Bedrock instrumentor: the real boto3 / botocore against a local server speaking
`bedrock-runtime`'s wire format (AWS event-stream framing included), the real OTel SDK
collecting spans and metrics in memory, and the processor's own pricing of those spans.

Costs are worked by hand from AWS's published Bedrock prices (per 1M tokens):
Claude Sonnet 4 3.00 in / 0.30 cache read / 3.75 cache write / 15.00 out; Claude Sonnet
4.5 through a global profile 3.00 / 15.00, through a regional (us., eu., ...) profile or
in-region 10% more, 3.30 / 16.50; Amazon Nova Pro 0.80 in / 0.20 cached / 3.20 out; Meta
Llama 3.3 70B 0.72 in and out; Mistral Large (24.02) 4.00 / 12.00; Titan Text
Embeddings V2 0.02 in.
"""
from __future__ import annotations

import gc
import json
from decimal import Decimal

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from opentelemetry.trace import SpanKind, StatusCode

from budget_and_cost import budget_decision, priced
from fake_bedrock import ConverseReply, FakeBedrock, InvokeReply, InvokeStreamReply, aws_error
from llmledger.instrumentation import attribute, budget
from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation.bedrock import BedrockInstrumentor

SONNET_4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"
HELLO = [{"role": "user", "content": [{"text": "Hello"}]}]
# 1,000 fresh input tokens, 2,000 read from the prompt cache, 500 written to it; 300 output.
CACHED_USAGE = {"inputTokens": 1_000, "outputTokens": 300, "totalTokens": 3_800,
                "cacheReadInputTokens": 2_000, "cacheWriteInputTokens": 500}
# 1,000 × 3/1M = 0.003, 2,000 × 0.30/1M = 0.0006, 500 × 3.75/1M = 0.001875, 300 × 15/1M = 0.0045 → 0.009975
CACHED_COST = Decimal("0.009975")


@pytest.fixture
def fake():
    with FakeBedrock() as server:
        yield server


@pytest.fixture
def instrumented(otel):
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider,
                            settings=Settings())
    yield instrumentor
    instrumentor.uninstrument()


def client_for(fake, service="bedrock-runtime"):
    return boto3.client(service, region_name="us-east-1", endpoint_url=fake.base_url, aws_access_key_id="AKIDTEST",
                        aws_secret_access_key="secret", config=Config(retries={"total_max_attempts": 1}))


def anthropic_body(**options) -> str:
    return json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 300,
                       "messages": [{"role": "user", "content": "Hello"}], **options})


def test_converse_records_cache_tokens_as_part_of_the_input(otel, fake, instrumented):
    fake.queue(ConverseReply(usage=CACHED_USAGE, stop_reason="max_tokens"))
    response = client_for(fake).converse(modelId=SONNET_4, messages=HELLO,
                                         inferenceConfig={"maxTokens": 300, "temperature": 0.5, "topP": 0.9,
                                                          "stopSequences": ["END"]})

    assert response["usage"]["inputTokens"] == 1_000
    [span] = otel.spans()
    assert span.name == f"chat {SONNET_4}"
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": SONNET_4,
        "gen_ai.request.stream": False,
        "gen_ai.request.max_tokens": 300,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.stop_sequences": ("END",),
        "server.address": "127.0.0.1",
        "server.port": fake.port,
        "gen_ai.response.finish_reasons": ("max_tokens",),
        "gen_ai.usage.input_tokens": 3_500,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 2_000,
        "gen_ai.usage.cache_write.input_tokens": 500,
    }
    [call] = priced([span])
    assert (call.provider, call.cost) == ("aws.bedrock", CACHED_COST)
    assert call.cost_details == {"input": Decimal("0.003"), "cache_read": Decimal("0.0006"),
                                 "cache_write": Decimal("0.001875"), "output": Decimal("0.0045")}
    by_type = {p.attributes["gen_ai.token.type"]: p.sum for p in otel.metric_points("gen_ai.client.token.usage")}
    assert by_type == {"input": 3_500, "output": 300}


def test_global_and_regional_profiles_are_priced_apart(otel, fake, instrumented):
    usage = {"inputTokens": 1_000, "outputTokens": 1_000, "totalTokens": 2_000}
    fake.queue(ConverseReply(usage=usage), ConverseReply(usage=usage), ConverseReply(usage=usage))
    client = client_for(fake)
    for model in ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                  "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
                  "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"):
        client.converse(modelId=model, messages=HELLO)

    global_call, regional_call, arn_call = priced(otel.spans())
    # global: 1,000 × 3/1M + 1,000 × 15/1M = 0.018; regional: 1,000 × 3.30/1M + 1,000 × 16.50/1M = 0.0198
    assert global_call.cost == Decimal("0.018")
    assert regional_call.cost == arn_call.cost == Decimal("0.0198")


def test_a_service_tier_without_a_catalog_price_is_left_unpriced(otel, fake, instrumented):
    fake.queue(ConverseReply(service_tier="flex"))
    client_for(fake).converse(modelId=SONNET_4, messages=HELLO, serviceTier={"type": "flex"})

    [span] = otel.spans()
    assert span.attributes["aws.bedrock.request.service_tier"] == "flex"
    assert span.attributes["aws.bedrock.response.service_tier"] == "flex"
    [call] = priced([span])
    assert (call.unpriced, call.cost) == (True, None)  # never the standard price for a flex call


def test_latency_optimized_inference_is_not_priced_at_the_standard_rate(otel, fake, instrumented):
    fake.queue(ConverseReply(), InvokeReply({"outputs": [{"text": "Hi", "stop_reason": "stop"}]}, token_headers=(100, 10)))
    client_for(fake).converse(modelId=SONNET_4, messages=HELLO, performanceConfig={"latency": "optimized"})
    client_for(fake).invoke_model(modelId="mistral.mistral-large-2402-v1:0", body=json.dumps({"prompt": "Hi"}),
                                  performanceConfigLatency="optimized")

    for span in otel.spans():
        assert span.attributes["aws.bedrock.request.service_tier"] == "latency-optimized"
    assert [call.unpriced for call in priced(otel.spans())] == [True, True]


def test_converse_stream_reads_the_metadata_event(otel, fake, instrumented):
    fake.queue(ConverseReply(usage=CACHED_USAGE, deltas=4))
    response = client_for(fake).converse_stream(modelId=SONNET_4, messages=HELLO)
    events = [next(iter(event)) for event in response["stream"]]

    assert events[0] == "messageStart" and events[-1] == "metadata"
    [span] = otel.spans()
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.input_tokens"] == 3_500
    assert span.attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert priced([span])[0].cost == CACHED_COST


def test_a_converse_stream_left_early_ends_once(otel, fake, instrumented):
    for event in client_for(fake).converse_stream(modelId=SONNET_4, messages=HELLO)["stream"]:
        break
    gc.collect()

    [span] = otel.spans()
    assert "gen_ai.usage.input_tokens" not in span.attributes  # the metadata event never came
    assert span.status.status_code is not StatusCode.ERROR


def test_an_exception_event_in_a_stream_fails_the_span_once(otel, fake, instrumented):
    fake.queue(ConverseReply(stream_exception="modelStreamErrorException"))
    with pytest.raises(botocore.exceptions.EventStreamError):
        for _ in client_for(fake).converse_stream(modelId=SONNET_4, messages=HELLO)["stream"]:
            pass

    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "EventStreamError"


def test_errors_end_the_span_with_the_error_type(otel, fake, instrumented):
    fake.queue(aws_error(429, "ThrottlingException", "slow down"))
    client = client_for(fake)
    with pytest.raises(client.exceptions.ThrottlingException):
        client.converse(modelId=SONNET_4, messages=HELLO)

    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ThrottlingException"


def test_invoke_model_anthropic_body_and_the_app_still_reads_it(otel, fake, instrumented):
    answer = {"id": "msg_bdrk_1", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "Hi"}],
              "stop_reason": "end_turn",
              "usage": {"input_tokens": 1_000, "output_tokens": 300, "cache_read_input_tokens": 2_000,
                        "cache_creation_input_tokens": 500}}
    fake.queue(InvokeReply(answer, token_headers=(1_000, 300)))
    response = client_for(fake).invoke_model(modelId=SONNET_4, body=anthropic_body(temperature=0.2, top_k=5))

    assert json.loads(response["body"].read()) == answer
    [span] = otel.spans()
    assert span.attributes["gen_ai.request.max_tokens"] == 300
    assert span.attributes["gen_ai.request.top_k"] == 5
    assert span.attributes["gen_ai.response.id"] == "msg_bdrk_1"
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.cache_read.input_tokens"],
            span.attributes["gen_ai.usage.cache_write.input_tokens"]) == (3_500, 2_000, 500)
    assert priced([span])[0].cost == CACHED_COST


@pytest.mark.parametrize("model, request_body, answer, headers, expected_tokens, expected_cost", [
    # Nova Pro: 1,000 × 0.80/1M + 4,000 × 0.20/1M + 200 × 3.20/1M = 0.0008 + 0.0008 + 0.00064 = 0.00224
    ("us.amazon.nova-pro-v1:0",
     {"messages": [{"role": "user", "content": [{"text": "Hi"}]}], "inferenceConfig": {"max_new_tokens": 200}},
     {"output": {"message": {"role": "assistant", "content": [{"text": "Hi"}]}}, "stopReason": "end_turn",
      "usage": {"inputTokens": 1_000, "outputTokens": 200, "totalTokens": 5_200, "cacheReadInputTokenCount": 4_000}},
     None, (5_000, 200), Decimal("0.00224")),
    # Llama 3.3 70B: (2,000 + 500) × 0.72/1M = 0.0018
    ("us.meta.llama3-3-70b-instruct-v1:0", {"prompt": "Hi", "max_gen_len": 500},
     {"generation": "Hello", "prompt_token_count": 2_000, "generation_token_count": 500, "stop_reason": "stop"},
     None, (2_000, 500), Decimal("0.0018")),
    # Mistral Large reports no counts in its body: Bedrock's headers, 1,000 × 4/1M + 200 × 12/1M = 0.0064
    ("mistral.mistral-large-2402-v1:0", {"prompt": "<s>[INST] Hi [/INST]", "max_tokens": 200},
     {"outputs": [{"text": "Hello", "stop_reason": "stop"}]}, (1_000, 200), (1_000, 200), Decimal("0.0064")),
])
def test_invoke_model_bodies_of_each_family(otel, fake, instrumented, model, request_body, answer, headers,
                                            expected_tokens, expected_cost):
    fake.queue(InvokeReply(answer, token_headers=headers))
    client_for(fake).invoke_model(modelId=model, body=json.dumps(request_body))

    [span] = otel.spans()
    asked = request_body.get("max_tokens") or request_body.get("max_gen_len") or (
        request_body["inferenceConfig"]["max_new_tokens"])
    assert span.attributes["gen_ai.request.max_tokens"] == asked
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        expected_tokens)
    assert span.attributes["gen_ai.response.finish_reasons"] in (("end_turn",), ("stop",))
    assert priced([span])[0].cost == expected_cost


def test_titan_embeddings(otel, fake, instrumented):
    fake.queue(InvokeReply({"embedding": [0.1, 0.2], "inputTextTokenCount": 1_000}, token_headers=(1_000, 0)))
    client_for(fake).invoke_model(modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": "Hello"}))

    [span] = otel.spans()
    assert span.name == "embeddings amazon.titan-embed-text-v2:0"
    assert "gen_ai.request.stream" not in span.attributes
    # 1,000 × 0.02/1M = 0.00002
    assert priced([span])[0].cost == Decimal("0.00002")


def test_invoke_stream_anthropic_chunks(otel, fake, instrumented):
    chunks = [
        {"type": "message_start", "message": {"id": "msg_s1", "type": "message", "role": "assistant", "content": [],
                                              "usage": {"input_tokens": 1_000, "output_tokens": 1,
                                                        "cache_read_input_tokens": 2_000,
                                                        "cache_creation_input_tokens": 500}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 300}},
        {"type": "message_stop"},
    ]
    fake.queue(InvokeStreamReply(chunks, invocation_metrics={"inputTokenCount": 1_000, "outputTokenCount": 300,
                                                             "invocationLatency": 900, "firstByteLatency": 200}))
    response = client_for(fake).invoke_model_with_response_stream(modelId=SONNET_4, body=anthropic_body())
    decoded = [json.loads(event["chunk"]["bytes"])["type"] for event in response["body"]]

    assert decoded[0] == "message_start" and len(decoded) == 7
    [span] = otel.spans()
    assert span.attributes["gen_ai.response.id"] == "msg_s1"
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        3_500, 300)
    assert priced([span])[0].cost == CACHED_COST


def test_invoke_stream_llama_counts_are_cumulative(otel, fake, instrumented):
    chunks = [{"generation": "Hel", "prompt_token_count": 2_000, "generation_token_count": 1, "stop_reason": None},
              {"generation": "lo", "prompt_token_count": None, "generation_token_count": 2, "stop_reason": None},
              {"generation": "", "prompt_token_count": None, "generation_token_count": 500, "stop_reason": "stop"}]
    fake.queue(InvokeStreamReply(chunks))
    response = client_for(fake).invoke_model_with_response_stream(
        modelId="us.meta.llama3-3-70b-instruct-v1:0", body=json.dumps({"prompt": "Hi"}))
    list(response["body"])

    [span] = otel.spans()
    assert span.name == "text_completion us.meta.llama3-3-70b-instruct-v1:0"
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        2_000, 500)
    assert priced([span])[0].cost == Decimal("0.0018")


def test_invoke_stream_mistral_uses_bedrocks_invocation_metrics(otel, fake, instrumented):
    chunks = [{"outputs": [{"text": "Hel", "stop_reason": None}]}, {"outputs": [{"text": "lo", "stop_reason": "stop"}]}]
    fake.queue(InvokeStreamReply(chunks, invocation_metrics={"inputTokenCount": 1_000, "outputTokenCount": 200,
                                                             "invocationLatency": 500, "firstByteLatency": 100}))
    response = client_for(fake).invoke_model_with_response_stream(
        modelId="mistral.mistral-large-2402-v1:0", body=json.dumps({"prompt": "<s>[INST] Hi [/INST]"}))
    list(response["body"])

    [span] = otel.spans()
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        1_000, 200)
    assert priced([span])[0].cost == Decimal("0.0064")


def test_an_exception_event_in_an_invoke_stream_fails_the_span(otel, fake, instrumented):
    fake.queue(InvokeStreamReply([{"outputs": [{"text": "Hel", "stop_reason": None}]}] * 3, exception_after=1))
    response = client_for(fake).invoke_model_with_response_stream(
        modelId="mistral.mistral-large-2402-v1:0", body=json.dumps({"prompt": "Hi"}))
    with pytest.raises(botocore.exceptions.EventStreamError):
        list(response["body"])

    [span] = otel.spans()
    assert span.attributes["error.type"] == "EventStreamError"


def test_other_aws_calls_are_not_traced(otel, fake, instrumented):
    fake.queue(aws_error(400, "ValidationException"))
    with pytest.raises(botocore.exceptions.ClientError):
        client_for(fake, "bedrock").list_foundation_models()  # the control plane, not a model call
    assert otel.spans() == []


def test_attribution_and_content_capture(otel, fake):
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, settings=Settings(capture_content=True))
    try:
        with attribute(user="u-5", team="ops"):
            client_for(fake).converse(modelId=SONNET_4, messages=HELLO, system=[{"text": "Be brief"}])
    finally:
        instrumentor.uninstrument()
    [span] = otel.spans()
    assert (span.attributes["user.id"], span.attributes["llmledger.team"]) == ("u-5", "ops")
    assert span.attributes["gen_ai.input.messages"] == '[{"role":"user","parts":[{"type":"text","content":"Hello"}]}]'
    assert span.attributes["gen_ai.system_instructions"] == '[{"text":"Be brief"}]'
    assert span.attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"Hello from the fake."}],"finish_reason":"end_turn"}]')


def test_budget_refusal_before_sending_and_degrade_to_the_fallback_model(otel, fake, instrumented):
    client = client_for(fake)
    with budget_decision({"decision": "deny", "budget_id": "bedrock-cap", "retry_after": 60}):
        with pytest.raises(budget.BudgetExceededError):
            client.converse(modelId=SONNET_4, messages=HELLO)
        with pytest.raises(budget.BudgetExceededError):
            client.invoke_model_with_response_stream(modelId=SONNET_4, body=anthropic_body())
    assert fake.requests == []
    with budget_decision({"decision": "degrade", "fallback_model": "us.anthropic.claude-3-5-haiku-20241022-v1:0"}):
        client.converse(modelId=SONNET_4, messages=HELLO)
        client.converse_stream(modelId=SONNET_4, messages=HELLO)["stream"].close()
    assert fake.model_ids() == ["us.anthropic.claude-3-5-haiku-20241022-v1:0"] * 2
    refused, refused_stream, degraded, degraded_stream = otel.spans()
    assert refused.attributes["error.type"] == refused_stream.attributes["error.type"] == "BudgetExceededError"
    assert degraded.attributes["gen_ai.request.model"] == "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert degraded_stream.attributes["gen_ai.request.model"] == "us.anthropic.claude-3-5-haiku-20241022-v1:0"


def test_uninstrument_stops_tracing(otel, fake, instrumented):
    instrumented.uninstrument()
    client_for(fake).converse(modelId=SONNET_4, messages=HELLO)
    assert otel.spans() == []
    instrumented.instrument(tracer_provider=otel.tracer_provider, settings=Settings())
