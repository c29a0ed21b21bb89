"""End to end: an app calling Anthropic, run under the real `opentelemetry-instrument`
launcher with the OTLP/HTTP exporter, into `llmledger serve`: one priced row per call
in `llm_spans`. The anthropic SDK's own tracing is on here (the launcher installs a
global tracer provider), so this also shows its spans do not double the count.

Expected costs are worked out by hand from Anthropic's published prices.
"""
from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from fake_anthropic import FakeAnthropic, MessageReply, Usage

# claude-sonnet-4: 3.00 in / 0.30 cache read / 3.75 cache write (5 min) / 15 out per 1M tokens.
# Non-streamed: 1500 uncached + 1000 cache read + 500 cache write input, 200 output:
#   1500 × 3/1M = 0.0045, 1000 × 0.30/1M = 0.0003, 500 × 3.75/1M = 0.001875, 200 × 15/1M = 0.003 → 0.009675
CREATE_COST = Decimal("0.009675")
# Streamed: 100 uncached input, 50 output: 100 × 3/1M = 0.0003, 50 × 15/1M = 0.00075 → 0.00105
STREAM_COST = Decimal("0.00105")

APP = """
import sys
import anthropic
from llmledger.instrumentation import attribute

client = anthropic.Anthropic(api_key="test-key", base_url=sys.argv[1], max_retries=0)
ask = {"model": "claude-sonnet-4-0", "max_tokens": 300, "messages": [{"role": "user", "content": "Hi"}]}
with attribute(user="alice", feature="summarize"):
    client.messages.create(**ask)
with client.messages.stream(**ask) as stream:
    stream.until_done()
"""


def test_instrumented_app_lands_priced_rows_in_llm_spans(service, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(APP)
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    env = {
        **os.environ,
        "OTEL_SERVICE_NAME": "support-bot",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": service.http_url,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",
    }
    with FakeAnthropic() as fake:
        fake.queue(
            MessageReply(model="claude-sonnet-4-20250514", usage=Usage(
                input_tokens=1500, output_tokens=200, cache_read_input_tokens=1000, cache_creation_input_tokens=500)),
            MessageReply(model="claude-sonnet-4-20250514", usage=Usage(input_tokens=100, output_tokens=50)),
        )
        done = subprocess.run([str(launcher), sys.executable, str(app), fake.base_url],
                              capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr

    assert service.wait_for("SELECT count() FROM llm_spans", 2) == 2
    rows = service.query(
        "SELECT app, provider, operation, request_model, model, streaming, user_id, feature, input_tokens, "
        "cache_read_tokens, cache_write_tokens, output_tokens, cost, unpriced FROM llm_spans ORDER BY streaming")
    created, streamed = rows
    assert (created["app"], created["provider"], created["operation"], created["request_model"], created["model"]) == (
        "support-bot", "anthropic", "chat", "claude-sonnet-4-0", "claude-sonnet-4-20250514")
    assert (created["user_id"], created["feature"], created["streaming"]) == ("alice", "summarize", False)
    assert (created["input_tokens"], created["cache_read_tokens"], created["cache_write_tokens"],
            created["output_tokens"]) == (3000, 1000, 500, 200)
    assert Decimal(created["cost"]) == CREATE_COST
    assert (streamed["streaming"], streamed["user_id"], streamed["input_tokens"], streamed["output_tokens"]) == (
        True, "", 100, 50)
    assert Decimal(streamed["cost"]) == STREAM_COST
    # Only llmledger's two spans arrived: none of the SDK's own for the same calls.
    assert service.scalar("SELECT count() FROM otel_traces") == 2
