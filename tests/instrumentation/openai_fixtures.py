"""Fixtures shared by the OpenAI test files; import the ones a file uses:

    from openai_fixtures import async_client, client, fake, instrument  # noqa: F401
"""
from __future__ import annotations

import openai
import pytest

from fake_openai import FakeOpenAI
from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation.openai import OpenAIInstrumentor


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def instrument(otel):
    """`instrument(**settings)` instruments into the in-memory providers; undone after the test."""
    instrumentor = OpenAIInstrumentor()

    def apply(**settings):
        instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider,
                                settings=Settings(**settings))

    yield apply
    instrumentor.uninstrument()


@pytest.fixture
def instrumented(instrument):
    instrument()


@pytest.fixture
def client(fake):
    return openai.OpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)


@pytest.fixture
def async_client(fake):
    return openai.AsyncOpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)
