"""The exact cache in a real Redis: shared by two processes, and a Redis that refuses
connections turns into "no cache" with one warning, never an error in the app."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import openai
import pytest
from conftest import free_port
from fake_openai import FakeOpenAI

from llmledger.instrumentation import cache
from llmledger.instrumentation.openai import OpenAIInstrumentor

MESSAGES = [{"role": "user", "content": "What is our refund policy?"}]

# Another process of the same app: instrumented from the environment, as opentelemetry-instrument does.
OTHER_PROCESS = textwrap.dedent("""
    import sys
    import openai
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from llmledger.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=TracerProvider(
        resource=Resource.create({"service.name": "support-bot"})))
    client = openai.OpenAI(base_url=sys.argv[1], api_key="k", max_retries=0)
    answer = client.chat.completions.create(model="gpt-4o-mini", temperature=0,
                                            messages=[{"role": "user", "content": "What is our refund policy?"}])
    print(answer.choices[0].message.content)
""")


@pytest.fixture
def redis_url(redis_server):
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def client(otel):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    with FakeOpenAI() as fake:
        yield fake, openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    instrumentor.uninstrument()


def _ask(client):
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0)


def test_two_processes_share_answers_through_redis(client, redis_url, otel):
    fake, sdk = client
    env = {**os.environ, "LLMLEDGER_CACHE": "redis", "LLMLEDGER_CACHE_REDIS_URL": redis_url,
           "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", OTHER_PROCESS, fake.base_url], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Hello there" and len(fake.requests) == 1
    cache.enable(redis_url=redis_url)
    answer = _ask(sdk)  # this process never asked before: the other process's answer
    assert answer.choices[0].message.content == "Hello there"
    assert len(fake.requests) == 1
    assert dict(otel.spans()[-1].attributes)["llmledger.cache.hit"] is True


def test_a_refused_redis_means_no_cache_and_one_warning(client, caplog):
    fake, sdk = client
    cache.enable(redis_url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="llmledger.instrumentation"):
        answers = [_ask(sdk) for _ in range(3)]
    assert all(a.choices[0].message.content == "Hello there" for a in answers)
    assert len(fake.requests) == 3
    warnings = [r.getMessage() for r in caplog.records if "Redis" in r.getMessage()]
    assert len(warnings) == 1 and "not answering" in warnings[0]


def test_redis_from_the_environment_without_the_client_installed(client, caplog, tmp_path: Path):
    fake, _ = client
    # A `redis` module that cannot be imported, as on an app without the extra installed.
    (tmp_path / "redis.py").write_text("raise ImportError('No module named redis')\n")
    env = {**os.environ, "LLMLEDGER_CACHE": "redis",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run([sys.executable, "-c", OTHER_PROCESS, fake.base_url], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Hello there"
    assert done.stderr.count("the 'redis' client is not installed") == 1


def test_the_semantic_index_lives_in_redis_too(client, redis_url):
    fake, sdk = client
    cache.enable(redis_url=redis_url, semantic=True, semantic_threshold=0.85)
    sdk.chat.completions.create(model="gpt-4o-mini", temperature=0,
                                messages=[{"role": "user", "content": "How do I reset my password?"}])
    cache.enable(redis_url=redis_url, semantic=True, semantic_threshold=0.85)  # a fresh process's view
    sdk.chat.completions.create(model="gpt-4o-mini", temperature=0,
                                messages=[{"role": "user", "content": "How can I reset my password?"}])
    assert len(fake.requests) == 1
