"""End to end: an unmodified OpenAI app under `opentelemetry-instrument` with the cache and a
routing file turned on by environment variables, exporting into `llmledger serve`. The
ledger holds a hit at cost 0 with what it saved, a routed call with the difference, and
the provider's prompt caching; `llmledger savings` and /metrics report them.

Published prices per 1M tokens: gpt-4o-mini 0.15 in / 0.075 cached / 0.60 out; gpt-4o
2.50 / 1.25 / 10. The fake answers every chat call with 1200 prompt tokens (1024 cached,
64 written to the cache, which OpenAI bills as input) and 300 completion tokens.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

from fake_openai import FakeOpenAI

# On gpt-4o-mini: 176 x 0.15/1M + 1024 x 0.075/1M + 300 x 0.60/1M = 0.0000264 + 0.0000768 + 0.00018
MINI_COST = Decimal("0.0002832")
# On gpt-4o: 176 x 2.50/1M + 1024 x 1.25/1M + 300 x 10/1M = 0.00044 + 0.00128 + 0.003 = 0.00472
GPT_4O_COST = Decimal("0.00472")
ROUTED_SAVING = GPT_4O_COST - MINI_COST  # 0.0044368
# Provider prompt caching on gpt-4o-mini: 1024 x (0.15 - 0.075)/1M
PROMPT_CACHE_SAVING = Decimal("0.0000768")

ROUTING = """
routes:
  - name: faq-on-mini
    when: {feature: faq, model: gpt-4o}
    model: gpt-4o-mini
"""

APP = """
import sys
import openai
from llmledger.instrumentation import attribute

client = openai.OpenAI(api_key="test-key", base_url=sys.argv[1], max_retries=0)
ask = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0}
first = client.chat.completions.create(**ask)
second = client.chat.completions.create(**ask)       # answered by the cache
assert second == first
with attribute(feature="faq"):                      # routed to gpt-4o-mini; sampled, so not cached
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], temperature=0.5)
"""


def test_the_ledger_holds_what_caching_and_routing_saved(service, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(APP)
    routing_file = tmp_path / "routing.yaml"
    routing_file.write_text(ROUTING)
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    env = {**os.environ, "OTEL_SERVICE_NAME": "support-bot", "OTEL_TRACES_EXPORTER": "otlp",
           "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": service.http_url,
           "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
           "LLMLEDGER_CACHE": "exact", "LLMLEDGER_ROUTING_FILE": str(routing_file)}
    with FakeOpenAI() as fake:
        done = subprocess.run([str(launcher), sys.executable, str(app), fake.base_url],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert len(fake.requests) == 2  # the hit never reached the provider

    assert service.wait_for("SELECT count() FROM llm_spans", 3) == 3
    miss, hit, routed = service.query(
        "SELECT span_id, trace_id, cache_kind, cache_source_span_id, cache_source_trace_id, request_model, "
        "requested_model, routing_reason, saving_strategy, cost, saved_cost, prompt_cache_saved "
        "FROM llm_spans ORDER BY timestamp")
    assert Decimal(miss["cost"]) == MINI_COST and miss["saved_cost"] is None
    assert Decimal(miss["prompt_cache_saved"]) == PROMPT_CACHE_SAVING
    assert (hit["cache_kind"], hit["saving_strategy"]) == ("exact", "exact_cache")
    assert (hit["cache_source_span_id"], hit["cache_source_trace_id"]) == (miss["span_id"], miss["trace_id"])
    assert Decimal(hit["cost"]) == 0 and Decimal(hit["saved_cost"]) == MINI_COST
    assert (routed["request_model"], routed["requested_model"], routed["routing_reason"]) == (
        "gpt-4o-mini", "gpt-4o", "route faq-on-mini")
    assert Decimal(routed["cost"]) == MINI_COST and Decimal(routed["saved_cost"]) == ROUTED_SAVING

    command = [sys.executable, "-m", "llmledger.processor.cli", "savings", "--data-dir", str(service.data_dir),
               "--format", "json"]
    report = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    saved = {row["strategy"]: Decimal(row["saved"]) for row in json.loads(report.stdout)}
    assert saved == {"exact_cache": MINI_COST, "routing": ROUTED_SAVING, "prompt_cache": 2 * PROMPT_CACHE_SAVING}

    with urllib.request.urlopen(f"{service.http_url}/metrics") as response:
        metrics = response.read().decode()
    assert 'llm_cost_saved_usd_total{strategy="exact_cache"} 0.0002832' in metrics
    assert 'llm_cost_saved_usd_total{strategy="routing"} 0.0044368' in metrics
