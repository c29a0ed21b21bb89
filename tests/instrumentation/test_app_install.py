"""The app side as a user installs it: both distributions built as wheels, the
instrumentation one installed alone (with openai) into a fresh environment, and an
unmodified app run under `opentelemetry-instrument` with the distro's defaults — traces,
metrics and logs exporters all on, OTLP/gRPC — against `llmledger serve`.

gpt-4o-mini: 0.15 in / 0.075 cached in / 0.60 out per 1M tokens. The fake's chat answer:
1200 prompt = 112 uncached + 1024 cached + 64 cache write (billed as input), 300 completion:
  112 × 0.15/1M + 1024 × 0.075/1M + 64 × 0.15/1M + 300 × 0.60/1M
  = 0.0000168 + 0.0000768 + 0.0000096 + 0.00018 = 0.0002832
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
CHAT_COST = Decimal("0.0002832")

APP = """
import sys
import openai

client = openai.OpenAI(api_key="test-key", base_url=sys.argv[1], max_retries=0)
answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
print(answer.choices[0].message.content)
"""

# What a service image carries and an app image must not.
SERVICE_ONLY = ("chdb", "clickhouse_connect", "starlette", "uvicorn", "pyarrow", "pandas", "llmledger.processor")


def _pip(*args: str, python: Path | None = None) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    if python is not None:
        command += ["--python", str(python)]
    subprocess.run([*command, *args], check=True, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    """A fresh environment with the llmledger-instrumentation wheel and openai, nothing else."""
    tmp = tmp_path_factory.mktemp("app-install")
    cache, wheels = tmp / "pip-cache", tmp / "wheels"
    # Both distributions build; each from its own pyproject.toml.
    _pip("wheel", "--no-deps", "--cache-dir", str(cache), "-w", str(wheels), str(ROOT / "instrumentation"), str(ROOT))
    [instrumentation] = wheels.glob("llmledger_instrumentation-*.whl")
    [service] = wheels.glob("llmledger-*.whl")
    # No pip of its own: the environment holds only what the app side needs (the size counts).
    env = tmp / "app-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    python = env / "bin" / "python"
    _pip("install", "--cache-dir", str(cache), str(instrumentation), "openai", python=python)
    return env, service


def _run_in(env: Path, code: str):
    """`code`'s JSON output, run by the environment's Python away from this checkout (`-c` puts
    the working directory on the path, and the checkout's own metadata is there)."""
    done = subprocess.run([str(env / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True,
                          cwd=env)
    return json.loads(done.stdout)


def test_the_instrumentation_installs_alone_without_service_code(app_env):
    env, service_wheel = app_env
    installed = _run_in(env, "import importlib.metadata as m, json; "
                             "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")
    assert "llmledger-instrumentation" in installed and "llmledger" not in installed
    assert {"opentelemetry-distro", "opentelemetry-exporter-otlp-proto-grpc", "wrapt", "openai"} <= set(installed)
    code = ("import importlib.util, json, sys; "
            f"print(json.dumps([m for m in {SERVICE_ONLY!r} if importlib.util.find_spec(m.split('.')[0]) and "
            "(m.count('.') == 0 or importlib.util.find_spec(m))]))")
    assert _run_in(env, code) == []
    # The service's wheel carries the same instrumentation and its entry points.
    import zipfile

    with zipfile.ZipFile(service_wheel) as wheel:
        names = wheel.namelist()
        entry_points = next(wheel.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "llmledger/instrumentation/openai/__init__.py" in names and "llmledger/processor/service.py" in names
    assert "openai = llmledger.instrumentation.openai:OpenAIInstrumentor" in entry_points


def test_an_unmodified_app_under_the_launcher_defaults_is_priced_with_its_metrics(app_env, service, tmp_path):
    env, _ = app_env
    app = tmp_path / "app.py"
    app.write_text(APP)
    # The distro's defaults: otlp for traces, metrics and logs, over gRPC. Only where the
    # service listens and the app's name are set.
    run_env = {
        "PATH": f"{env / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{service.grpc_address}",
        "OTEL_SERVICE_NAME": "support-bot",
    }
    with FakeOpenAI() as fake:
        done = subprocess.run([str(env / "bin" / "opentelemetry-instrument"), str(env / "bin" / "python"), str(app),
                               fake.base_url], capture_output=True, text=True, env=run_env, timeout=180,
                              cwd=tmp_path)  # the app's own folder (the launcher puts it on the path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Hello there"
    # Nothing logged by the app: no error, no traceback, no failed export, no word from us.
    assert done.stderr == ""

    assert service.wait_for("SELECT count() FROM llm_spans", 1) == 1
    [call] = service.query("SELECT app, provider, model, input_tokens, output_tokens, cost FROM llm_spans")
    assert (call["app"], call["provider"], call["model"]) == ("support-bot", "openai", "gpt-4o-mini-2024-07-18")
    assert (call["input_tokens"], call["output_tokens"], Decimal(call["cost"])) == (1200, 300, CHAT_COST)

    assert service.wait_for("SELECT count() FROM otel_metrics_histogram WHERE MetricName = "
                            "'gen_ai.client.token.usage'", 2) == 2
    usage = service.query(
        "SELECT Attributes['gen_ai.token.type'] AS type, Sum, Count FROM otel_metrics_histogram "
        "WHERE MetricName = 'gen_ai.client.token.usage' AND ServiceName = 'support-bot' ORDER BY type")
    assert usage == [{"type": "input", "Sum": 1200, "Count": 1}, {"type": "output", "Sum": 300, "Count": 1}]
    assert service.scalar("SELECT count() FROM otel_metrics_histogram "
                          "WHERE MetricName = 'gen_ai.client.operation.duration'") == 1
