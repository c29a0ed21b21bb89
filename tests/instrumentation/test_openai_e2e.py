"""End to end: an unmodified app calling OpenAI, run under the real `opentelemetry-instrument`
launcher with the OTLP/HTTP exporter into `llmledger serve`: one priced row per call.

gpt-4o-mini: 0.15 in / 0.075 cached in / 0.60 out per 1M tokens (a cache write, which
OpenAI does not price apart, is billed as input).
"""
from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from fake_openai import FakeOpenAI

# Non-streamed: 1200 prompt = 112 uncached + 1024 cached + 64 cache write; 300 completion (128 reasoning):
#   112 × 0.15/1M + 1024 × 0.075/1M + 64 × 0.15/1M + 300 × 0.60/1M
#   = 0.0000168 + 0.0000768 + 0.0000096 + 0.00018 = 0.0002832
CREATE_COST = Decimal("0.0002832")
# Streamed with the usage chunk: 1500 prompt = 220 uncached + 1280 cached; 42 completion:
#   220 × 0.15/1M + 1280 × 0.075/1M + 42 × 0.60/1M = 0.000033 + 0.000096 + 0.0000252 = 0.0001542
STREAM_COST = Decimal("0.0001542")

APP = """
import sys
import openai
from llmledger.instrumentation import attribute

client = openai.OpenAI(api_key="test-key", base_url=sys.argv[1], max_retries=0)
ask = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
with attribute(user="bob", team="search", feature="rerank"):
    client.chat.completions.create(**ask)
for chunk in client.chat.completions.create(stream=True, **ask):
    pass
"""


def test_instrumented_openai_app_lands_priced_rows(service, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(APP)
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    env = {
        **os.environ,
        "OTEL_SERVICE_NAME": "search-api",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=staging",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": service.http_url,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "LLMLEDGER_OPENAI_INCLUDE_USAGE": "true",  # so the streamed call is counted too
    }
    with FakeOpenAI() as fake:
        done = subprocess.run([str(launcher), sys.executable, str(app), fake.base_url],
                              capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr

    assert service.wait_for("SELECT count() FROM llm_spans", 2) == 2
    created, streamed = service.query(
        "SELECT app, environment, provider, model, streaming, user_id, team, feature, input_tokens, "
        "cache_read_tokens, output_tokens, reasoning_tokens, cost, unpriced FROM llm_spans ORDER BY streaming")
    assert (created["app"], created["environment"], created["provider"], created["streaming"]) == (
        "search-api", "staging", "openai", False)
    assert (created["user_id"], created["team"], created["feature"]) == ("bob", "search", "rerank")
    assert (created["input_tokens"], created["cache_read_tokens"], created["output_tokens"],
            created["reasoning_tokens"]) == (1200, 1024, 300, 128)
    assert Decimal(created["cost"]) == CREATE_COST
    assert (streamed["streaming"], streamed["input_tokens"], streamed["cache_read_tokens"],
            streamed["output_tokens"]) == (True, 1500, 1280, 42)
    assert Decimal(streamed["cost"]) == STREAM_COST
    assert service.scalar("SELECT count() FROM otel_traces") == 2
