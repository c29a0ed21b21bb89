"""What an app sees when it starts under `opentelemetry-instrument`: nothing when all is
well or an SDK is simply absent, and one clear line when its calls will not be traced
or their spans go nowhere — once, however many calls it makes."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI
from llmledger.instrumentation._genai import GenAIInstrumentor

# Two calls, each flushed on its own, so a per-span or per-batch message would show twice.
APP = """
import sys
import openai
from opentelemetry import trace

client = openai.OpenAI(base_url=sys.argv[1], api_key="test-key", max_retries=0)
for _ in range(2):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if flush:
        flush()
"""

LAUNCHER = Path(sys.executable).with_name("opentelemetry-instrument")


def _run_app(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    app = tmp_path / "app.py"
    app.write_text(APP)
    base = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    full_env = {**base, "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", **env}
    with FakeOpenAI() as fake:
        done = subprocess.run([str(LAUNCHER), sys.executable, str(app), fake.base_url],
                              capture_output=True, text=True, env=full_env, timeout=120)
        assert len([r for r in fake.requests if r.path.endswith("/chat/completions")]) == 2
    assert done.returncode == 0, done.stderr
    return done


def _llmledger_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "llmledger" in line]


# --- the SDK's presence and version ---------------------------------------------


class _Probe(GenAIInstrumentor):
    """A real instrumentor on the shared base, recording whether it patched."""
    patched = False

    def _patch(self, **kwargs):
        type(self).patched = True

    def _uninstrument(self, **kwargs):
        type(self).patched = False


def test_an_absent_sdk_is_skipped_without_a_word(caplog):
    class Absent(_Probe):
        sdk, supported = "llmledger-test-sdk-that-is-not-installed", ">= 1"

    with caplog.at_level(logging.INFO):
        assert Absent().instrument() is None
    assert not Absent.patched
    assert caplog.records == []


def test_an_unsupported_sdk_version_is_one_line_naming_the_range(caplog):
    import openai

    class TooNew(_Probe):
        sdk, supported = "openai", ">= 1.0, < 1.1"

    instrumentor = TooNew()
    try:
        with caplog.at_level(logging.DEBUG, logger="llmledger.instrumentation"):
            instrumentor.instrument(skip_dep_check=True)  # as the launcher calls it
        assert not TooNew.patched
        [record] = caplog.records
        assert record.levelno == logging.WARNING
        assert record.getMessage() == (
            f"llmledger: openai {openai.__version__} is installed, but llmledger traces "
            "openai >= 1.0, < 1.1; its calls are not traced")
    finally:
        instrumentor.uninstrument()


def test_an_instrumentor_listed_twice_starts_once_without_a_word(caplog):
    class Twice(_Probe):
        sdk, supported = "openai", ">= 1.0"

    instrumentor = Twice()
    try:
        with caplog.at_level(logging.INFO):
            instrumentor.instrument(skip_dep_check=True)
            Twice.patched = False
            Twice().instrument(skip_dep_check=True)  # the second entry point: the same singleton
        assert not Twice.patched  # not patched again
        assert caplog.records == []
    finally:
        instrumentor.uninstrument()


def test_an_old_openai_under_the_launcher_gets_one_line_and_the_app_runs(tmp_path):
    # A distribution's metadata earlier on the path is the version the check sees, as
    # when an app pins openai 0.28; the calls themselves still go through the real SDK.
    shadow = tmp_path / "shadow"
    (shadow / "openai-0.28.1.dist-info").mkdir(parents=True)
    (shadow / "openai-0.28.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: openai\nVersion: 0.28.1\n")
    done = _run_app(tmp_path, PYTHONPATH=str(shadow), OTEL_TRACES_EXPORTER="console")
    assert _llmledger_lines(done.stderr) == [
        "llmledger: openai 0.28.1 is installed, but llmledger traces openai >= 1.0, < 4; its calls are not traced"]
    assert "gen_ai.operation.name" not in done.stdout  # no LLM span
    assert "Traceback" not in done.stderr


def test_all_well_is_silent(tmp_path):
    done = _run_app(tmp_path, OTEL_TRACES_EXPORTER="console")
    assert done.stdout.count('"gen_ai.operation.name": "chat"') == 2
    assert done.stderr == ""


# --- where the spans go -----------------------------------------------------------


def test_no_configurator_says_so_once(tmp_path):
    # The launcher without a configurator (as without opentelemetry-distro): no SDK at all.
    done = _run_app(tmp_path, OTEL_PYTHON_CONFIGURATOR="not-installed")
    [line] = _llmledger_lines(done.stderr)
    assert "no OpenTelemetry SDK is set up, so LLM calls are not traced" in line
    assert "install opentelemetry-distro" in line


def test_traces_exporter_off_says_so_once(tmp_path):
    done = _run_app(tmp_path, OTEL_TRACES_EXPORTER="none")
    assert _llmledger_lines(done.stderr) == [
        "llmledger: OTEL_TRACES_EXPORTER=none, so LLM spans are made but none leaves the app and no cost "
        "is recorded. Unset it (the distro's default is otlp) to send them."]


class _Refusing(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_an_endpoint_that_refuses_is_one_warning_not_one_per_batch(tmp_path, refusing_endpoint):
    done = _run_app(tmp_path, OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
                    OTEL_EXPORTER_OTLP_ENDPOINT=refusing_endpoint)
    assert done.stderr.count("Failed to export spans batch") == 2  # the exporter's own, per batch
    [line] = _llmledger_lines(done.stderr)
    assert f"LLM spans could not be delivered to {refusing_endpoint}/v1/traces" in line


def test_nothing_listening_over_grpc_is_one_warning(tmp_path):
    with socket_that_is_closed() as port:
        done = _run_app(tmp_path, OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
                        OTEL_EXPORTER_OTLP_TIMEOUT="1")
    [line] = _llmledger_lines(done.stderr)
    assert "LLM spans could not be delivered to 127.0.0.1:" in line


class socket_that_is_closed:
    """A loopback port nothing listens on (bound, then closed)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def __exit__(self, *exc):
        return False
