"""The real frameworks, each in its own pinned environment (environments.py), calling a
local fake OpenAI server with known usage and exporting OTLP into `llmledger serve`: one
row per real call, exact tokens, and the cost worked by hand from OpenAI's prices.

gpt-4o-mini: 0.15 in / 0.075 cached in / 0.60 out per 1M tokens (no cache-write price:
written tokens are billed as input). What the fake server answers (fake_openai.py):
- chat: 1200 in (1024 cached, 64 written), 300 out (128 reasoning)
    176 x 0.15 + 1024 x 0.075 + 300 x 0.60 = 26.4 + 76.8 + 180 = 283.2 per 1M -> 0.0002832
- streamed chat: 1500 in (1280 cached), 42 out (10 reasoning)
    220 x 0.15 + 1280 x 0.075 + 42 x 0.60 = 33 + 96 + 25.2 = 154.2 per 1M -> 0.0001542
- Responses API (the Agents SDK): 900 in (512 cached), 250 out (200 reasoning)
    388 x 0.15 + 512 x 0.075 + 250 x 0.60 = 58.2 + 38.4 + 150 = 246.6 per 1M -> 0.0002466
Each app makes a call, a streamed call and a call the server fails with a 500.

The Vercel AI SDK's app also calls claude-sonnet-4-5 (fake_providers.py), a call and a
streamed call: 3.00 in / 0.30 cache read / 3.75 cache write (5 minutes) / 15.00 out per 1M.
- 2600 in (2000 read, 500 written), 50 out
    100 x 3 + 2000 x 0.30 + 500 x 3.75 + 50 x 15 = 300 + 600 + 1875 + 750 = 3525 per 1M -> 0.003525
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "instrumentation"))

from environments import STACKS, InstallFailed  # noqa: E402
from fake_providers import FakeProviders  # noqa: E402
from service_harness import start_service  # noqa: E402

# (input, output, cache read, reasoning, cost) of a successful call's row.
CHAT = (1200, 300, 1024, 128, Decimal("0.0002832"))
STREAM = (1500, 42, 1280, 10, Decimal("0.0001542"))
RESPONSE = (900, 250, 512, 200, Decimal("0.0002466"))
CLAUDE = (2600, 50, 2000, 0, Decimal("0.003525"))

# What each stack's rows hold, successful calls in order. Where an instrumentation does
# not record a breakdown, no row can have it: the gap is stated here, per stack.
EXPECTED = {
    "openlit": [CHAT[:3] + (0,) + CHAT[4:], STREAM[:3] + (0,) + STREAM[4:]],  # no reasoning count
    # OpenLLMetry's LangChain spans carry no reasoning count (its openai instrumentor
    # stays quiet under LangChain: one span per call).
    "langchain_openllmetry": [CHAT[:3] + (0,) + CHAT[4:], STREAM[:3] + (0,) + STREAM[4:]],
    "langchain_openinference": [CHAT, STREAM],
    "llamaindex_openinference": [CHAT, STREAM],
    "agents_openinference": [RESPONSE, RESPONSE],  # run_sync and run_streamed
    "pydantic_ai": [CHAT, STREAM],
    "logfire": [CHAT, STREAM],
    "litellm": [CHAT, STREAM],
    # openai-v2 2.4b0 records no cached or reasoning tokens: the cached input is priced at
    # the full input rate, as the span says. 1200 x 0.15 + 300 x 0.60 = 360 per 1M;
    # 1500 x 0.15 + 42 x 0.60 = 250.2 per 1M.
    "openai_v2": [(1200, 300, 0, 0, Decimal("0.00036")), (1500, 42, 0, 0, Decimal("0.0002502"))],
    # The Vercel AI SDK (Node.js) states the cache and reasoning counts under ai.usage.* only.
    "vercel_ai": [CHAT, STREAM, CLAUDE, CLAUDE],
}
SERVICE_NAMES = {
    "openlit": "openlit-openai", "langchain_openllmetry": "langchain-openllmetry",
    "langchain_openinference": "langchain-openinference", "llamaindex_openinference": "llamaindex-openinference",
    "agents_openinference": "agents-openinference", "pydantic_ai": "pydantic-ai", "logfire": "logfire-openai",
    "litellm": "litellm-otel", "openai_v2": "openai-v2", "vercel_ai": "vercel-ai",
}
# The tools that put a cost estimate of their own on the span, and that estimate.
TOOL_ESTIMATES = {"litellm": "litellm", "pydantic_ai": "pydantic-ai"}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    running = start_service(tmp_path_factory.mktemp("stacks") / "data")
    yield running
    running.stop()


def _drained(service, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(service.http_url + "/readyz", timeout=10) as answer:
            if json.loads(answer.read())["log_lag_records"] == 0:
                return
        time.sleep(0.2)
    raise AssertionError("the service did not store what it accepted")


def _run_app(stack: str, python: Path, service, fakes: FakeProviders) -> dict:
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""),
        "OTEL_EXPORTER_OTLP_ENDPOINT": service.http_url, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "NO_PROXY": "*", **fakes.environment(),
    }
    done = subprocess.run(STACKS[stack].command(python), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{stack} app failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("stack", list(STACKS))
def test_one_row_per_real_call_with_exact_tokens_and_cost(stack, stack_pythons, service):
    python = stack_pythons[stack]
    if isinstance(python, InstallFailed):
        pytest.fail(str(python))
    with FakeProviders() as fakes:
        seen = _run_app(stack, python, service, fakes)
        requests = fakes.requests
    _drained(service)
    assert seen["answer"] and seen["streamed"], seen

    name = SERVICE_NAMES[stack]
    rows = service.query(
        "SELECT input_tokens, output_tokens, cache_read_tokens, reasoning_tokens, cost, status, usage_source, "
        f"unpriced, reported_cost, reported_cost_source, reported_cost_disagrees FROM v_llm_calls "
        f"WHERE service_name = '{name}' ORDER BY timestamp")
    answered = [row for row in rows if row["status"] != "Error" and row["usage_source"] == "provider"]
    failed = [row for row in rows if row["status"] == "Error"]
    estimated = [row for row in rows if row["usage_source"] == "estimated"]

    # One row per call that reached the provider, however many spans described it.
    assert len(rows) == requests, rows
    assert [(r["input_tokens"], r["output_tokens"], r["cache_read_tokens"], r["reasoning_tokens"],
             Decimal(r["cost"])) for r in answered] == EXPECTED[stack]
    # The failed call: one row with its error and no cost, not "unpriced".
    assert [(r["cost"], r["unpriced"]) for r in failed] == [(None, 0)]
    if stack == "openlit":
        # The stream that reported no usage: OpenLIT's own count is kept, never priced.
        assert [(r["cost"], r["unpriced"]) for r in estimated] == [(None, 1)]
    if stack in TOOL_ESTIMATES:
        # The tool's own estimate is kept beside ours; here both follow the same prices.
        assert {(r["reported_cost_source"], r["reported_cost_disagrees"]) for r in answered} == {
            (TOOL_ESTIMATES[stack], 0)}
        assert [Decimal(r["reported_cost"]) for r in answered] == [e[4] for e in EXPECTED[stack]]

    # Every other LLM span of these calls names the span that was counted.
    counted = {r["span_id"] for r in service.query(f"SELECT span_id FROM v_llm_calls WHERE service_name = '{name}'")}
    marked = service.query(
        "SELECT SpanAttributes['llmledger.duplicate_of'] AS kept FROM otel_traces "
        f"WHERE ServiceName = '{name}' AND mapContains(SpanAttributes, 'llmledger.duplicate_of')")
    assert {row["kept"] for row in marked} <= counted
