"""The spans the real frameworks emitted (tests/normalize/spans), sent to `llmledger serve`
one span per export request, with a restart in the middle: still one row per real call,
the duplicates marked in otel_traces, the rollups in agreement with the rows."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "normalize"))

from captured import REAL_CALLS, STACKS, llm_span_count, one_span_per_request  # noqa: E402
from service_harness import start_service  # noqa: E402

# Service names the stack apps gave their resources, and the real calls each made.
SERVICES = {
    "agents_openinference": "agents-openinference", "langchain_openinference": "langchain-openinference",
    "langchain_openllmetry": "langchain-openllmetry", "litellm": "litellm-otel",
    "llamaindex_openinference": "llamaindex-openinference", "logfire": "logfire-openai",
    "openai_v2": "openai-v2", "openlit": "openlit-openai", "pydantic_ai": "pydantic-ai", "vercel_ai": "vercel-ai",
}


def post(service, request) -> None:
    body = request.SerializeToString()
    http = urllib.request.Request(service.http_url + "/v1/traces", data=body,
                                  headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(http, timeout=30) as answer:
        assert answer.status == 200


def test_one_row_per_real_call_across_requests_and_a_restart(tmp_path):
    start_ns = time.time_ns() - 60_000_000_000
    singles = {stack: one_span_per_request(stack, start_ns) for stack in STACKS}
    llm_spans = sum(llm_span_count(stack) for stack in STACKS)
    data = tmp_path / "data"
    service = start_service(data)
    try:
        for stack, requests in singles.items():
            for request in requests[: len(requests) // 2]:
                post(service, request)
        service.stop()
        service = start_service(data)  # the twins of what is stored come after the restart
        for stack, requests in singles.items():
            for request in requests[len(requests) // 2:]:
                post(service, request)
        total = sum(REAL_CALLS.values())
        assert service.wait_for("SELECT count() FROM v_llm_calls", total) == total
        rows = {row["service_name"]: row for row in service.query(
            "SELECT service_name, count() AS calls, sum(input_tokens) AS input, sum(output_tokens) AS output, "
            "countIf(status = 'Error') AS failed FROM v_llm_calls GROUP BY service_name")}
        for stack, name in SERVICES.items():
            row = rows[name]
            assert row["calls"] == REAL_CALLS[stack], stack
            assert row["failed"] == 1, stack
            # The chat call 1200 in / 300 out; the Agents SDK's Responses call 900 / 250.
            per_call = (900, 250) if stack == "agents_openinference" else (1200, 300)
            stream = (900, 250) if stack == "agents_openinference" else (1500, 42)
            # OpenLIT's stream without usage; the Vercel AI SDK's two calls of 2600 in / 50 out
            # through Anthropic.
            more = {"openlit": (8, 6), "vercel_ai": (2 * 2600, 2 * 50)}.get(stack, (0, 0))
            assert (row["input"], row["output"]) == (per_call[0] + stream[0] + more[0],
                                                     per_call[1] + stream[1] + more[1]), stack

        # Every LLM span not counted (a twin, a framework span around the call) names the span that was.
        # (A span replaced after it was stored is marked by a mutation, which ClickHouse
        # applies in the background.)
        marked = "SELECT count() FROM otel_traces WHERE mapContains(SpanAttributes, 'llmledger.duplicate_of')"
        assert service.wait_for(marked, llm_spans - total) == llm_spans - total
        kept = service.query(
            "SELECT DISTINCT SpanAttributes['llmledger.duplicate_of'] AS span_id FROM otel_traces "
            "WHERE mapContains(SpanAttributes, 'llmledger.duplicate_of')")
        stored = {row["span_id"] for row in service.query("SELECT span_id FROM v_llm_calls")}
        assert {row["span_id"] for row in kept} <= stored

        # The rollup agrees with the rows, corrections included.
        by_app = service.query("SELECT app, sum(requests) AS requests, sum(cost) AS cost FROM v_cost_hourly "
                               "GROUP BY app ORDER BY app")
        calls = service.query("SELECT app, count() AS requests, sum(cost) AS cost FROM v_llm_calls "
                              "GROUP BY app ORDER BY app")
        assert [(r["app"], r["requests"], Decimal(r["cost"])) for r in by_app] == [
            (r["app"], r["requests"], Decimal(r["cost"])) for r in calls]

        # `costs trace` counts the trace's spans, which are in otel_traces.
        trace = service.query("SELECT trace_id FROM v_llm_calls WHERE service_name = 'pydantic-ai' LIMIT 1")
        out = subprocess.run([sys.executable, "-m", "llmledger.processor.cli", "costs", "trace",
                              trace[0]["trace_id"], "--data-dir", str(data), "--format", "json"],
                             capture_output=True, text=True, timeout=120)
        assert json.loads(out.stdout)["span_count"] == 2  # pydantic-ai: the agent run and its model request
    finally:
        service.stop()

