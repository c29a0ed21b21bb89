"""End to end, one test per provider: an app calling Google Gen AI, Bedrock, Mistral or
Cohere, run under the real `opentelemetry-instrument` launcher (every llmledger
instrumentor loaded from its entry point) with the OTLP/HTTP exporter, into `llmledger
serve`: one priced row per call in `llm_spans`, attribution included.

Expected costs are worked out by hand from the providers' published prices (per 1M tokens).
"""
from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from fake_bedrock import ConverseReply, FakeBedrock
from fake_cohere import CohereReply, FakeCohere
from fake_gemini import FakeGemini, GeminiReply
from fake_mistral import FakeMistral, MistralReply

ROWS = ("SELECT app, provider, operation, request_model, streaming, user_id, feature, input_tokens, "
        "cache_read_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost, unpriced "
        "FROM llm_spans ORDER BY streaming")


def run_instrumented(tmp_path: Path, app: str, base_url: str, service) -> None:
    script = tmp_path / "app.py"
    script.write_text(app)
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    env = {
        **os.environ,
        "OTEL_SERVICE_NAME": "e2e-app",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": service.http_url,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    done = subprocess.run([str(launcher), sys.executable, str(script), base_url],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "llmledger instrumentation error" not in done.stderr, done.stderr


def two_rows(service) -> tuple[dict, dict]:
    assert service.wait_for("SELECT count() FROM llm_spans", 2) == 2
    created, streamed = service.query(ROWS)
    assert service.scalar("SELECT count() FROM otel_traces") == 2  # one span per call, no more
    assert (created["app"], created["user_id"], created["feature"], created["streaming"]) == (
        "e2e-app", "alice", "e2e", False)
    assert (streamed["streaming"], streamed["user_id"], streamed["unpriced"]) == (True, "", False)
    return created, streamed


GEMINI_APP = """
import sys
from google import genai
from google.genai import types
from llmledger.instrumentation import attribute

client = genai.Client(api_key="k", http_options=types.HttpOptions(
    base_url=sys.argv[1], retry_options=types.HttpRetryOptions(attempts=1)))
with attribute(user="alice", feature="e2e"):
    client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"):
    pass
"""


def test_google_genai_app_lands_priced_rows(service, tmp_path):
    with FakeGemini() as fake:
        fake.queue(GeminiReply(usage={"promptTokenCount": 10_000, "cachedContentTokenCount": 4_000,
                                      "candidatesTokenCount": 800, "thoughtsTokenCount": 1_200}),
                   GeminiReply(usage={"promptTokenCount": 1_000, "candidatesTokenCount": 200}))
        run_instrumented(tmp_path, GEMINI_APP, fake.base_url, service)
    created, streamed = two_rows(service)
    assert (created["provider"], created["operation"], created["request_model"]) == (
        "gcp.gemini", "generate_content", "gemini-2.5-flash")
    assert (created["input_tokens"], created["cache_read_tokens"], created["output_tokens"],
            created["reasoning_tokens"]) == (10_000, 4_000, 2_000, 1_200)
    # gemini-2.5-flash 0.30 in / 0.03 cached / 2.50 out (thinking is output):
    #   6,000 × 0.30/1M + 4,000 × 0.03/1M + 2,000 × 2.50/1M = 0.0018 + 0.00012 + 0.005 = 0.00692
    assert Decimal(created["cost"]) == Decimal("0.00692")
    # 1,000 × 0.30/1M + 200 × 2.50/1M = 0.0003 + 0.0005 = 0.0008
    assert Decimal(streamed["cost"]) == Decimal("0.0008")


BEDROCK_APP = """
import sys
import boto3
from botocore.config import Config
from llmledger.instrumentation import attribute

client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=sys.argv[1],
                      aws_access_key_id="AKIDTEST", aws_secret_access_key="secret",
                      config=Config(retries={"total_max_attempts": 1}))
model = "us.anthropic.claude-sonnet-4-20250514-v1:0"
ask = [{"role": "user", "content": [{"text": "Hi"}]}]
with attribute(user="alice", feature="e2e"):
    client.converse(modelId=model, messages=ask)
for event in client.converse_stream(modelId=model, messages=ask)["stream"]:
    pass
"""


def test_bedrock_app_lands_priced_rows(service, tmp_path):
    with FakeBedrock() as fake:
        fake.queue(ConverseReply(usage={"inputTokens": 1_000, "outputTokens": 300, "totalTokens": 3_800,
                                        "cacheReadInputTokens": 2_000, "cacheWriteInputTokens": 500}),
                   ConverseReply(usage={"inputTokens": 100, "outputTokens": 50, "totalTokens": 150}))
        run_instrumented(tmp_path, BEDROCK_APP, fake.base_url, service)
    created, streamed = two_rows(service)
    assert (created["provider"], created["operation"], created["request_model"]) == (
        "aws.bedrock", "chat", "us.anthropic.claude-sonnet-4-20250514-v1:0")
    assert (created["input_tokens"], created["cache_read_tokens"], created["cache_write_tokens"],
            created["output_tokens"]) == (3_500, 2_000, 500, 300)
    # Claude Sonnet 4 on Bedrock, 3.00 in / 0.30 cache read / 3.75 cache write / 15.00 out:
    #   1,000 × 3/1M + 2,000 × 0.30/1M + 500 × 3.75/1M + 300 × 15/1M = 0.003 + 0.0006 + 0.001875 + 0.0045 = 0.009975
    assert Decimal(created["cost"]) == Decimal("0.009975")
    # 100 × 3/1M + 50 × 15/1M = 0.0003 + 0.00075 = 0.00105
    assert Decimal(streamed["cost"]) == Decimal("0.00105")


MISTRAL_APP = """
import sys
from mistralai.client import Mistral
from llmledger.instrumentation import attribute

client = Mistral(api_key="k", server_url=sys.argv[1])
ask = [{"role": "user", "content": "Hi"}]
with attribute(user="alice", feature="e2e"):
    client.chat.complete(model="mistral-large-2411", messages=ask)
for event in client.chat.stream(model="mistral-large-2411", messages=ask):
    pass
"""


def test_mistral_app_lands_priced_rows(service, tmp_path):
    with FakeMistral() as fake:
        fake.queue(MistralReply(usage={"prompt_tokens": 1_000, "completion_tokens": 200, "total_tokens": 1_200}),
                   MistralReply(usage={"prompt_tokens": 500, "completion_tokens": 100, "total_tokens": 600}))
        run_instrumented(tmp_path, MISTRAL_APP, fake.base_url, service)
    created, streamed = two_rows(service)
    assert (created["provider"], created["operation"], created["request_model"]) == (
        "mistral_ai", "chat", "mistral-large-2411")
    # mistral-large-2411 2.00 in / 6.00 out: 1,000 × 2/1M + 200 × 6/1M = 0.002 + 0.0012 = 0.0032
    assert Decimal(created["cost"]) == Decimal("0.0032")
    # 500 × 2/1M + 100 × 6/1M = 0.001 + 0.0006 = 0.0016
    assert Decimal(streamed["cost"]) == Decimal("0.0016")


COHERE_APP = """
import sys
import cohere
from llmledger.instrumentation import attribute

client = cohere.ClientV2(api_key="k", base_url=sys.argv[1], max_retries=0)
ask = [{"role": "user", "content": "Hi"}]
with attribute(user="alice", feature="e2e"):
    client.chat(model="command-a-03-2025", messages=ask)
for event in client.chat_stream(model="command-r-08-2024", messages=ask):
    pass
"""


def test_cohere_app_lands_priced_rows(service, tmp_path):
    with FakeCohere() as fake:
        fake.queue(CohereReply(billed=(2_000, 300), raw_tokens=(2_150, 300)), CohereReply(billed=(1_000, 100)))
        run_instrumented(tmp_path, COHERE_APP, fake.base_url, service)
    created, streamed = two_rows(service)
    assert (created["provider"], created["operation"], created["request_model"]) == (
        "cohere", "chat", "command-a-03-2025")
    assert (created["input_tokens"], created["output_tokens"]) == (2_000, 300)  # billed, not raw
    # command-a-03-2025 2.50 in / 10.00 out: 2,000 × 2.5/1M + 300 × 10/1M = 0.005 + 0.003 = 0.008
    assert Decimal(created["cost"]) == Decimal("0.008")
    # command-r-08-2024 0.15 / 0.60: 1,000 × 0.15/1M + 100 × 0.60/1M = 0.00015 + 0.00006 = 0.00021
    assert Decimal(streamed["cost"]) == Decimal("0.00021")
