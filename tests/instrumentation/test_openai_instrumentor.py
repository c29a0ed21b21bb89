"""The instrumentor as an app meets it: install, uninstall, providers, privacy, safety,
and living next to another OpenAI instrumentation."""
from __future__ import annotations

import importlib.metadata
import json
import logging
import subprocess
import sys
from pathlib import Path

import httpx2
import openai
import pytest
import wrapt

from openai_fixtures import client, fake, instrument  # noqa: F401
from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation.openai import OpenAIInstrumentor
from llmledger.instrumentation.openai.providers import provider_for

MESSAGES = [{"role": "user", "content": "Say hello."}]


def _request_method(client_class_name: str):
    from openai import _base_client

    return vars(getattr(_base_client, client_class_name))["request"]


# --- install / uninstall ---------------------------------------------------------


def test_uninstrument_removes_the_patches(otel, client):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider,
                            settings=Settings())
    assert isinstance(_request_method("SyncAPIClient"), wrapt.FunctionWrapper)
    assert isinstance(_request_method("AsyncAPIClient"), wrapt.FunctionWrapper)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    instrumentor.uninstrument()

    assert not isinstance(_request_method("SyncAPIClient"), wrapt.FunctionWrapper)
    assert not isinstance(_request_method("AsyncAPIClient"), wrapt.FunctionWrapper)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(otel.spans()) == 1  # only the call made while instrumented


def test_registered_for_opentelemetry_instrument():
    [entry_point] = [e for e in importlib.metadata.entry_points(group="opentelemetry_instrumentor")
                     if e.name == "openai"]
    assert entry_point.load() is OpenAIInstrumentor
    assert OpenAIInstrumentor().instrumentation_dependencies() == ("openai >= 1.0, < 4",)


def test_importing_the_instrumentation_imports_no_sdk_or_http_library():
    code = (
        "import sys, llmledger.instrumentation.openai, llmledger.instrumentation._genai\n"
        "print([m for m in sys.modules if m.split('.')[0] in ('openai', 'httpx', 'httpx2', 'anthropic')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_zero_code_with_opentelemetry_instrument(fake, tmp_path):
    """The real `opentelemetry-instrument` launcher traces an unmodified app."""
    app = tmp_path / "app.py"
    app.write_text(
        "import openai, sys\n"
        "client = openai.OpenAI(base_url=sys.argv[1], api_key='test-key', max_retries=0)\n"
        "client.chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'hi'}])\n"
    )
    env = {
        "PATH": "", "OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none", "OTEL_SERVICE_NAME": "zero-code-app",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "anthropic",
    }
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    assert launcher.exists(), "opentelemetry-instrument comes with opentelemetry-instrumentation"
    done = subprocess.run([str(launcher), sys.executable, str(app), fake.base_url],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    spans = _console_spans(done.stdout)
    [span] = [s for s in spans if s["attributes"].get("gen_ai.operation.name")]
    assert span["name"] == "chat gpt-4o-mini"
    assert span["kind"] == "SpanKind.CLIENT"
    assert span["attributes"]["gen_ai.usage.input_tokens"] == 1200
    assert span["attributes"]["gen_ai.usage.output_tokens"] == 300
    assert span["resource"]["attributes"]["service.name"] == "zero-code-app"


def _console_spans(stdout: str) -> list[dict]:
    """The console exporter prints one JSON object per span."""
    decoder, spans, position = json.JSONDecoder(), [], 0
    while (start := stdout.find("{", position)) != -1:
        span, position = decoder.raw_decode(stdout, start)
        spans.append(span)
    return spans


# --- providers -------------------------------------------------------------------


@pytest.mark.parametrize("host, port, provider", [
    ("api.openai.com", 443, "openai"),
    ("my-resource.openai.azure.com", 443, "azure.ai.openai"),
    ("my-resource.cognitiveservices.azure.com", 443, "azure.ai.openai"),
    ("api.groq.com", 443, "groq"),
    ("api.together.xyz", 443, "together_ai"),
    ("api.deepseek.com", 443, "deepseek"),
    ("openrouter.ai", 443, "openrouter"),
    ("API.Mistral.AI", 443, "mistral_ai"),
    ("localhost", 11434, "ollama"),
    ("127.0.0.1", 8000, "vllm"),
    ("localhost", 1234, "lm_studio"),
    ("127.0.0.1", 9999, "openai"),
    ("llm-gateway.internal.example", 443, "openai"),
])
def test_provider_follows_the_server_address(host, port, provider):
    assert provider_for(host, port) == provider


def test_azure_client(otel, instrument, fake):
    instrument()
    # The fake acts as an HTTP proxy, so the client addresses a real Azure-style host
    # while every byte stays on this machine.
    client = openai.AzureOpenAI(
        azure_endpoint="http://my-resource.openai.azure.com", api_version="2024-10-21", api_key="test-key",
        max_retries=0, http_client=httpx2.Client(proxy=fake.proxy_url),
    )
    completion = client.chat.completions.create(model="my-gpt-4o-deployment", messages=MESSAGES)

    assert completion.id == "chatcmpl-fake-1"
    assert fake.requests[-1].path == "/openai/deployments/my-gpt-4o-deployment/chat/completions"
    [span] = otel.spans()
    assert span.name == "chat my-gpt-4o-deployment"
    assert span.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert span.attributes["server.address"] == "my-resource.openai.azure.com"
    assert span.attributes["server.port"] == 80
    assert span.attributes["gen_ai.usage.input_tokens"] == 1200


def test_openai_compatible_endpoint(otel, instrument, fake):
    instrument()
    client = openai.OpenAI(base_url="http://api.groq.com/openai/v1", api_key="test-key", max_retries=0,
                           http_client=httpx2.Client(proxy=fake.proxy_url))
    client.chat.completions.create(model="llama-3.3-70b-versatile", messages=MESSAGES)
    [span] = otel.spans()
    assert span.attributes["gen_ai.provider.name"] == "groq"
    assert span.attributes["server.address"] == "api.groq.com"


def test_provider_setting_overrides_the_address(otel, instrument, client):
    instrument(openai_provider="openai_via_gateway")
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    [span] = otel.spans()
    assert span.attributes["gen_ai.provider.name"] == "openai_via_gateway"


def test_module_level_client(otel, instrument, fake, monkeypatch):
    monkeypatch.setattr(openai, "api_key", "test-key")
    monkeypatch.setattr(openai, "base_url", fake.base_url + "/")  # the module client adds no slash
    monkeypatch.setattr(openai, "max_retries", 0)
    instrument()
    openai.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    [span] = otel.spans()
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == fake.port
    assert span.attributes["gen_ai.usage.output_tokens"] == 300


def test_changing_the_base_url_changes_the_server(otel, instrument, client, fake):
    instrument()
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    client.base_url = f"http://localhost:{fake.port}/v1"
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    first, second = otel.spans()
    assert first.attributes["server.address"] == "127.0.0.1"
    assert second.attributes["server.address"] == "localhost"


# --- privacy -----------------------------------------------------------------------


def test_message_content_is_not_captured_by_default(otel, instrument, client):
    instrument()
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    [span] = otel.spans()
    assert "gen_ai.input.messages" not in span.attributes
    assert "gen_ai.output.messages" not in span.attributes
    assert not any("Say hello" in str(value) or "Hello there" in str(value) for value in span.attributes.values())


def test_message_content_when_opted_in_is_truncated(otel, instrument, client):
    instrument(capture_content=True, content_max_chars=5)
    client.chat.completions.create(model="gpt-4o-mini", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}])
    [span] = otel.spans()
    assert json.loads(span.attributes["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be br…[truncated]"}]},
        {"role": "user", "parts": [{"type": "text", "content": "Say h…[truncated]"}]},
    ]
    assert json.loads(span.attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hello…[truncated]"}], "finish_reason": "stop"},
    ]


def test_streamed_content_when_opted_in(otel, instrument, client):
    instrument(capture_content=True)
    list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    [span] = otel.spans()
    assert json.loads(span.attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hello there"}], "finish_reason": "stop"},
    ]


def test_content_setting_from_the_environment(monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    monkeypatch.setenv("LLMLEDGER_CAPTURE_CONTENT_MAX_CHARS", "100")
    monkeypatch.setenv("LLMLEDGER_OPENAI_INCLUDE_USAGE", "1")
    settings = Settings.from_env()
    assert settings.capture_content is True
    assert settings.content_max_chars == 100
    assert settings.openai_include_usage is True


def test_bad_setting_is_reported_and_the_defaults_used(otel, fake, monkeypatch, caplog):
    monkeypatch.setenv("LLMLEDGER_OPENAI_INCLUDE_USAGE", "sometimes")
    instrumentor = OpenAIInstrumentor()
    with caplog.at_level(logging.ERROR, logger="llmledger.instrumentation"):
        instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    try:
        client = openai.OpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)
        list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    finally:
        instrumentor.uninstrument()
    assert "LLMLEDGER_OPENAI_INCLUDE_USAGE must be true or false, got 'sometimes'" in caplog.text
    assert "stream_options" not in fake.requests[-1].body  # the default: off
    assert len(otel.spans()) == 1


def test_metrics_off_when_the_metrics_exporter_is_none(otel, client, monkeypatch):
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)  # no meter_provider given
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    assert len(otel.spans()) == 1


# --- safety ------------------------------------------------------------------------


def test_an_error_inside_the_instrumentation_never_reaches_the_app(otel, instrument, client, caplog):
    instrument()
    patches = OpenAIInstrumentor()._patches

    def broken_reader(call, result):
        raise RuntimeError("bug in a reader")

    patches.endpoints["/chat/completions"].read_result = broken_reader
    try:
        with caplog.at_level(logging.DEBUG, logger="llmledger.instrumentation"):
            completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        from llmledger.instrumentation.openai import readers

        patches.endpoints["/chat/completions"].read_result = readers.read_chat_completion

    assert completion.choices[0].message.content == "Hello there"
    assert "bug in a reader" in caplog.text
    [span] = otel.spans()  # still ended
    assert span.name == "chat gpt-4o-mini"


def test_an_error_in_a_stream_reader_passes_chunks_through(otel, instrument, client, caplog, monkeypatch):
    instrument()
    patches = OpenAIInstrumentor()._patches

    def broken_reader(hide_usage_chunk, capture_content):
        def on_chunk(call, chunk):
            raise ValueError("bug in a chunk reader")
        return on_chunk

    monkeypatch.setattr(patches.endpoints["/chat/completions"], "stream_reader", broken_reader)
    with caplog.at_level(logging.DEBUG, logger="llmledger.instrumentation"):
        chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    assert len(chunks) == 6
    assert "bug in a chunk reader" in caplog.text
    assert len(otel.spans()) == 1


# --- another instrumentation already active --------------------------------------


def _foreign_wrapper(wrapped, instance, args, kwargs):
    return wrapped(*args, **kwargs)


@pytest.fixture
def foreign_chat_patch():
    """A wrapt patch on chat completions as the official OpenTelemetry package makes it."""
    from openai.resources.chat.completions import Completions

    original = vars(Completions)["create"]

    def apply(module_name):
        _foreign_wrapper.__module__ = module_name
        wrapt.wrap_function_wrapper("openai.resources.chat.completions", "Completions.create", _foreign_wrapper)

    yield apply
    Completions.create = original


def test_another_instrumentation_is_detected_and_not_double_counted(
        otel, instrument, client, foreign_chat_patch, caplog):
    foreign_chat_patch("opentelemetry.instrumentation.openai_v2.patch")
    with caplog.at_level(logging.WARNING, logger="llmledger.instrumentation"):
        instrument()

    assert "official OpenTelemetry OpenAI instrumentation" in caplog.text
    assert "/chat/completions" in caplog.text
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # left to the other one
    client.embeddings.create(model="text-embedding-3-small", input="hi")  # not patched by it: ours
    assert [s.name for s in otel.spans()] == ["embeddings text-embedding-3-small"]


def test_another_instrumentation_applied_after_ours_is_caught_at_the_first_call(
        otel, instrument, client, foreign_chat_patch, caplog):
    instrument()
    foreign_chat_patch("some_vendor.tracing.openai_hooks")
    with caplog.at_level(logging.WARNING, logger="llmledger.instrumentation"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert "another instrumentation (module some_vendor.tracing.openai_hooks)" in caplog.text
    assert otel.spans() == []
