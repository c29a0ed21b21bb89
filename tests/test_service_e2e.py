"""The whole service, as a user runs it: `llmledger serve` on embedded ClickHouse, fed by
the real OpenTelemetry SDK and OTLP exporter, read back with SQL.

Expected costs are worked out by hand from the providers' published prices (per 1M tokens).
"""
from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal

from llm_traffic import GPT_4O_MINI_CHAT, GPT_4O_MINI_COST, encoded_request, export_spans
from service_harness import start_service

# claude-sonnet-4: 3.00 in / 0.30 cache read / 3.75 cache write (5 min) / 15 out per 1M tokens.
# 3000 input tokens = 1500 uncached + 1000 cache read + 500 cache write, 200 output:
#   1500 × 3/1M = 0.0045, 1000 × 0.30/1M = 0.0003, 500 × 3.75/1M = 0.001875, 200 × 15/1M = 0.003 → 0.009675
CLAUDE_SONNET_4_COST = Decimal("0.009675")

def _post(url, body: bytes, content_type: str, encoding: str | None = None):
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def _declared_oversize(http_url: str, length: int) -> int:
    """Announce a body over the cap and wait for the word to send it (`Expect: 100-continue`,
    as curl does for big bodies): the refusal comes at once, not after a wait for the body."""
    import http.client

    connection = http.client.HTTPConnection(http_url.split("//", 1)[1], timeout=10)  # the body wait is 30 s
    connection.putrequest("POST", "/v1/traces")
    connection.putheader("Content-Type", "application/x-protobuf")
    connection.putheader("Content-Length", str(length))
    connection.putheader("Expect", "100-continue")
    connection.endheaders()
    status = connection.getresponse().status
    connection.close()
    return status


def test_spans_from_the_otel_sdk_are_priced_and_stored(service):
    claude = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-20250514", "gen_ai.response.model": "claude-sonnet-4-20250514",
        "gen_ai.usage.input_tokens": 3000, "gen_ai.usage.output_tokens": 200,
        "gen_ai.usage.cache_read.input_tokens": 1000, "gen_ai.usage.cache_write.input_tokens": 500,
        "user.id": "alice", "llmledger.team": "support", "llmledger.feature": "answer", "llmledger.tag.ticket": "T-1",
    }
    export_spans(service, [("chat gpt-4o-mini", GPT_4O_MINI_CHAT), ("chat claude-sonnet-4", claude)])

    assert service.wait_for("SELECT count() FROM llm_spans", 2) == 2
    rows = {r["provider"]: r for r in service.query(
        "SELECT provider, app, environment, request_model, model, user_id, team, feature, tags, input_tokens, "
        "output_tokens, cache_read_tokens, cache_write_tokens, cost, price_source, price_version, unpriced "
        "FROM llm_spans")}
    openai, anthropic = rows["openai"], rows["anthropic"]
    assert Decimal(openai["cost"]) == GPT_4O_MINI_COST
    assert Decimal(anthropic["cost"]) == CLAUDE_SONNET_4_COST
    assert (openai["app"], openai["environment"], openai["model"]) == (
        "support-bot", "production", "gpt-4o-mini-2024-07-18")
    assert (anthropic["user_id"], anthropic["team"], anthropic["feature"], anthropic["tags"]) == (
        "alice", "support", "answer", {"ticket": "T-1"})
    assert (anthropic["input_tokens"], anthropic["cache_read_tokens"], anthropic["cache_write_tokens"]) == (
        3000, 1000, 500)
    assert openai["price_source"] == "catalog" and openai["price_version"] and openai["unpriced"] == 0

    # Every span is in otel_traces, the LLM ones with their cost; the trace lookup table knows the trace.
    # (The request span came in a request of its own: it may be stored a batch later.)
    assert service.wait_for("SELECT count() FROM otel_traces", 3) == 3
    spans = service.query("SELECT SpanName, SpanKind, SpanAttributes['llmledger.cost'] AS cost, TraceId "
                          "FROM otel_traces ORDER BY SpanName")
    assert [(s["SpanName"], s["SpanKind"]) for s in spans] == [
        ("chat claude-sonnet-4", "Client"), ("chat gpt-4o-mini", "Client"), ("handle request", "Server")]
    assert Decimal(spans[1]["cost"]) == GPT_4O_MINI_COST and spans[2]["cost"] == ""
    trace_id = spans[0]["TraceId"]
    assert service.wait_for(f"SELECT count() FROM otel_traces_trace_id_ts WHERE TraceId = '{trace_id}'", 1) == 1
    # The rollups are written by the same insert, but become visible just after the table.
    assert service.wait_for("SELECT sum(requests) FROM llm_cost_hourly", 2) == 2
    hourly = service.query("SELECT sum(requests) AS n, sum(cost) AS cost FROM llm_cost_hourly")[0]
    assert (hourly["n"], Decimal(hourly["cost"])) == (2, GPT_4O_MINI_COST + CLAUDE_SONNET_4_COST)

    with urllib.request.urlopen(f"{service.http_url}/metrics") as response:
        metrics = response.read().decode()
    labels = 'app="support-bot",environment="production",model="claude-sonnet-4-20250514",provider="anthropic"'
    assert f"llm_requests_total{{{labels}}} 1.0" in metrics
    assert f"llm_cost_usd_total{{{labels}}} 0.009675" in metrics
    assert f'llm_tokens_total{{{labels},type="cache_write"}} 500.0' in metrics
    assert not re.search(r"^llm_\w+\{[^}]*user", metrics, re.M)  # no per-user series: unbounded


def test_gzip_and_json_bodies(service):
    from opentelemetry.exporter.otlp.proto.http import Compression

    export_spans(service, [("chat gpt-4o-mini", GPT_4O_MINI_CHAT)], compression=Compression.Gzip)
    now = time.time_ns()
    body = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]},
        "scopeSpans": [{"scope": {"name": "hand-written"}, "spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "name": "chat gpt-4o-mini", "kind": 3, "startTimeUnixNano": str(now - 10**9),
            "endTimeUnixNano": str(now),
            "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1000"}},
                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 100}},
                {"key": "gen_ai.usage.cache_read.input_tokens", "value": {"intValue": "200"}},
            ]}]}]}]}
    status, answer, headers = _post(f"{service.http_url}/v1/traces", json.dumps(body).encode(), "application/json")
    assert status == 200 and headers["content-type"].startswith("application/json")

    assert service.wait_for("SELECT count() FROM llm_spans", 2) == 2
    row = service.query("SELECT trace_id, span_id, app, cost FROM llm_spans WHERE app = 'json-app'")[0]
    assert (row["trace_id"], row["span_id"]) == ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174")
    assert Decimal(row["cost"]) == GPT_4O_MINI_COST
    costs = service.query("SELECT DISTINCT cost FROM llm_spans")
    assert [Decimal(c["cost"]) for c in costs] == [GPT_4O_MINI_COST]


def test_other_instrumentations_conventions_are_priced_the_same(service):
    openinference = {
        "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
        "llm.system": "openai", "llm.token_count.prompt": 1000, "llm.token_count.completion": 100,
        "llm.token_count.prompt_details.cache_read": 200, "llm.token_count.total": 1100,
    }
    openllmetry = {
        "llm.request.type": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini", "gen_ai.usage.prompt_tokens": 1000,
        "gen_ai.usage.completion_tokens": 100, "gen_ai.usage.cache_read_input_tokens": 200,
        "llm.usage.total_tokens": 1100,
    }
    deprecated_genai = {
        "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.prompt_tokens": 1000, "gen_ai.usage.completion_tokens": 100,
        "gen_ai.usage.cache_read.input_tokens": 200,
    }
    export_spans(service, [("ChatCompletion", openinference), ("openai.chat", openllmetry),
                      ("chat gpt-4o-mini", deprecated_genai)])
    assert service.wait_for("SELECT count() FROM llm_spans", 3) == 3
    rows = service.query("SELECT provider, input_tokens, output_tokens, cache_read_tokens, cost FROM llm_spans")
    for row in rows:
        assert (row["provider"], row["input_tokens"], row["output_tokens"], row["cache_read_tokens"]) == (
            "openai", 1000, 100, 200)
        assert Decimal(row["cost"]) == GPT_4O_MINI_COST


def test_unknown_model_is_stored_unpriced_and_counted(service):
    unknown = {**GPT_4O_MINI_CHAT, "gen_ai.request.model": "acme-llama-ft-v3",
               "gen_ai.response.model": "acme-llama-ft-v3", "gen_ai.provider.name": "acme"}
    export_spans(service, [("chat acme", unknown)])
    assert service.wait_for("SELECT count() FROM llm_spans", 1) == 1
    row = service.query("SELECT cost, unpriced, input_tokens, price_source FROM llm_spans")[0]
    assert (row["cost"], row["unpriced"], row["input_tokens"], row["price_source"]) == (None, 1, 1000, "")
    with urllib.request.urlopen(f"{service.http_url}/metrics") as response:
        metrics = response.read().decode()
    assert 'llmledger_llm_calls_unpriced_total{model="acme-llama-ft-v3",provider="acme"} 1.0' in metrics


def test_bad_input_gets_the_right_answer_and_the_service_keeps_serving(service):
    url = f"{service.http_url}/v1/traces"
    good = encoded_request([("chat gpt-4o-mini", GPT_4O_MINI_CHAT)])
    assert _post(url, b"\xff\x00garbage\x17" * 10, "application/x-protobuf")[0] == 400
    assert _post(url, good[: len(good) // 2], "application/x-protobuf")[0] == 400
    assert _post(url, b"{not json", "application/json")[0] == 400
    assert _post(url, good, "text/plain")[0] == 415
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB of zeros, over the 16 MiB cap once inflated
    assert _post(url, bomb, "application/x-protobuf", encoding="gzip")[0] == 413
    assert _declared_oversize(service.http_url, 17 << 20) == 413

    negative = {**GPT_4O_MINI_CHAT, "gen_ai.usage.input_tokens": -5}
    absurd = {**GPT_4O_MINI_CHAT, "gen_ai.usage.output_tokens": 10**15}
    mixed = encoded_request([("chat bad", negative), ("chat absurd", absurd), ("chat ok", GPT_4O_MINI_CHAT)])
    status, answer, _ = _post(url, mixed, "application/x-protobuf")
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    response = ExportTraceServiceResponse.FromString(answer)
    assert status == 200 and response.partial_success.rejected_spans == 2
    assert "token" in response.partial_success.error_message

    assert _post(url, good, "application/x-protobuf")[0] == 200
    assert service.wait_for("SELECT count() FROM llm_spans", 2) == 2
    assert service.scalar("SELECT count() FROM otel_traces") == 2  # the rejected spans are nowhere
    assert service.scalar("SELECT max(output_tokens) FROM llm_spans") == 100


def test_the_same_batch_sent_twice_is_stored_once(service):
    body = encoded_request([("chat gpt-4o-mini", GPT_4O_MINI_CHAT)] * 5)
    url = f"{service.http_url}/v1/traces"
    assert _post(url, body, "application/x-protobuf")[0] == 200
    assert _post(url, body, "application/x-protobuf")[0] == 200  # a client retry
    assert service.wait_for("SELECT count() FROM llm_spans", 5) == 5
    time.sleep(0.5)  # give a wrongly accepted duplicate time to land
    assert service.scalar("SELECT count() FROM llm_spans") == 5
    assert service.scalar("SELECT count() FROM otel_traces") == 5
    assert service.scalar("SELECT sum(requests) FROM llm_cost_hourly") == 5


def test_query_command_works_while_serve_holds_the_store(service):
    export_spans(service, [("chat gpt-4o-mini", GPT_4O_MINI_CHAT)])
    assert service.wait_for("SELECT count() FROM llm_spans", 1) == 1
    result = subprocess.run(
        [sys.executable, "-m", "llmledger.processor.cli", "query", "--data-dir", str(service.data_dir),
         "--format", "json", "SELECT app, sum(cost) AS cost, count() AS calls FROM llm_spans GROUP BY app"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"app": "support-bot", "cost": "0.000195000000", "calls": 1}]
    csv = subprocess.run(
        [sys.executable, "-m", "llmledger.processor.cli", "query", "--data-dir", str(service.data_dir),
         "--format", "csv", "SELECT app, count() AS calls FROM llm_spans GROUP BY app"],
        capture_output=True, text=True, timeout=60)
    assert csv.stdout.splitlines() == ["app,calls", "support-bot,1"]
    bad = subprocess.run(
        [sys.executable, "-m", "llmledger.processor.cli", "query", "--data-dir", str(service.data_dir),
         "SELECT nope FROM llm_spans"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "nope" in bad.stderr


def test_query_command_opens_the_store_when_no_service_runs(service):
    export_spans(service, [("chat gpt-4o-mini", GPT_4O_MINI_CHAT)])
    assert service.wait_for("SELECT count() FROM llm_spans", 1) == 1
    assert service.stop() == 0
    result = subprocess.run(
        [sys.executable, "-m", "llmledger.processor.cli", "query", "--data-dir", str(service.data_dir),
         "SELECT count() AS calls, sum(cost) AS cost FROM llm_spans"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].split() == ["1", "0.000195000000"]


def test_broken_price_book_and_config_stop_the_start_with_a_clear_error(tmp_path):
    book = tmp_path / "prices.yaml"
    book.write_text("models:\n  - match: my-model\n    prices:\n      inptu: 1.0\n")
    result = subprocess.run(
        [sys.executable, "-m", "llmledger.processor.cli", "serve", "--data-dir", str(tmp_path / "d"),
         "--http-port", "0", "--grpc-port", "0", "--price-book", str(book)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "prices.yaml:4" in result.stderr and "inptu" in result.stderr

    config = tmp_path / "llmledger.yaml"
    config.write_text("http:\n  prot: 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "llmledger.processor.cli", "serve", "--config", str(config)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "llmledger.yaml:2: http.prot: unknown key" in result.stderr


def test_price_book_prices_a_custom_model_over_the_catalog(tmp_path):
    book = tmp_path / "prices.yaml"
    # 1000 input (200 cached) × … : 800 × 0.30/1M + 200 × 0.15/1M + 100 × 1.20/1M = 0.00024 + 0.00003 + 0.00012
    book.write_text("models:\n  - match: 'ft:gpt-4o-mini:acme:*'\n    provider: openai\n    prices:\n"
                    "      input: 0.30\n      cache_read: 0.15\n      output: 1.20\n")
    running = start_service(tmp_path / "data", "--price-book", str(book))
    try:
        fine_tuned = {**GPT_4O_MINI_CHAT, "gen_ai.request.model": "ft:gpt-4o-mini:acme:support:abc123",
                      "gen_ai.response.model": "ft:gpt-4o-mini:acme:support:abc123"}
        export_spans(running, [("chat ft", fine_tuned)])
        assert running.wait_for("SELECT count() FROM llm_spans", 1) == 1
        row = running.query("SELECT cost, price_source FROM llm_spans")[0]
        assert (Decimal(row["cost"]), row["price_source"]) == (Decimal("0.00039"), "price_book")
    finally:
        running.stop()


def test_demo_shows_costs_by_app_and_where_the_pages_are(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "llmledger.processor.cli", "demo", "--calls", "100", "--days", "8", "--exit",
         "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    # 100 everyday calls and 75 unusual ones: a 40-call spike, one runaway call, 20 of a new app, 8 of a new
    # model, 6 a budget refused.
    assert "175 of 175 calls stored" in result.stdout
    assert "Cost by app" in result.stdout and "support-bot" in result.stdout and "batch-eval" in result.stdout
    assert re.search(r"^cost pages: http://127\.0\.0\.1:\d+/$", result.stdout, re.MULTILINE)
    assert not (tmp_path / "d" / "service.json").exists()  # --exit: the demo's service has stopped


def test_without_the_log_spans_are_still_stored(tmp_path):
    """`wal.enabled: false` (the benchmark's baseline) keeps the log in memory."""
    config = tmp_path / "no-log.yaml"
    config.write_text("wal:\n  enabled: false\n")
    running = start_service(tmp_path / "data", "--config", str(config))
    try:
        export_spans(running, [("chat gpt-4o-mini", GPT_4O_MINI_CHAT)] * 3)
        assert running.wait_for("SELECT count() FROM llm_spans", 3) == 3
        assert Decimal(running.scalar("SELECT sum(cost) FROM llm_spans")) == 3 * GPT_4O_MINI_COST
        assert not (tmp_path / "data" / "wal").exists()
    finally:
        running.stop()


def test_a_second_serve_on_the_same_data_dir_says_why_it_cannot(service):
    result = subprocess.run(
        [sys.executable, "-m", "llmledger.processor.cli", "serve", "--data-dir", str(service.data_dir),
         "--http-port", "0", "--grpc-port", "0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "another `llmledger serve` is running" in result.stderr
    assert "Traceback" not in result.stderr
    assert service.scalar("SELECT 1") == 1  # the first one is unharmed


def test_a_taken_port_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for flags in (["--http-port", port, "--grpc-port", "0"], ["--http-port", "0", "--grpc-port", port]):
            result = subprocess.run(
                [sys.executable, "-m", "llmledger.processor.cli", "serve", "--data-dir", str(tmp_path / "d"), *flags],
                capture_output=True, text=True, timeout=60)
            assert result.returncode == 1, result.stderr
            assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr
