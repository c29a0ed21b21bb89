"""The semantic cache with the offline embedder, inside the real openai SDK: a question asked
in other words is answered from the cache only when everything else matches exactly."""
from __future__ import annotations

import openai
import pytest
from fake_openai import FakeOpenAI

from llmledger.instrumentation import attribute, cache
from llmledger.instrumentation._genai.cache.semantic import WordLlamaEmbedder, split_question
from llmledger.instrumentation.openai import OpenAIInstrumentor

SYSTEM = {"role": "system", "content": "You answer questions about our shop."}


@pytest.fixture(scope="module")
def embedder():
    return WordLlamaEmbedder()


@pytest.fixture
def sdk(otel, embedder):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    cache.enable(semantic=True, semantic_threshold=0.85, embedder=embedder)
    with FakeOpenAI() as fake:
        yield fake, openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    instrumentor.uninstrument()


def _ask(client, question, system=SYSTEM, **extra):
    return client.chat.completions.create(model="gpt-4o-mini", temperature=0,
                                          messages=[system, {"role": "user", "content": question}], **extra)


def test_a_paraphrase_is_answered_from_the_cache(sdk, otel):
    fake, client = sdk
    first = _ask(client, "How do I reset my password?")
    second = _ask(client, "How can I reset my password?")
    assert len(fake.requests) == 1 and second == first
    hit = dict(otel.spans()[-1].attributes)
    assert hit["llmledger.cache.kind"] == "semantic" and 0.85 <= hit["llmledger.cache.similarity"] <= 1


def test_a_different_question_is_not(sdk):
    fake, client = sdk
    _ask(client, "What is the capital of France?")
    _ask(client, "What is the capital of Spain?")
    assert len(fake.requests) == 2


def test_only_the_wording_of_the_question_may_differ(sdk):
    fake, client = sdk
    _ask(client, "How do I reset my password?")
    _ask(client, "How can I reset my password?", system={"role": "system", "content": "You are a pirate."})
    _ask(client, "How can I reset my password?", max_tokens=20)
    client.chat.completions.create(model="gpt-4o", temperature=0,
                                   messages=[SYSTEM, {"role": "user", "content": "How can I reset my password?"}])
    with attribute(tenant="globex"):
        _ask(client, "How can I reset my password?")
    assert len(fake.requests) == 5


def test_questions_with_images_are_matched_exactly_only():
    body = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}
    assert split_question("/chat/completions", body) is None
    assert split_question("/chat/completions", {"messages": [{"role": "assistant", "content": "hi"}]}) is None
    text, context = split_question("/v1/messages", {"system": "s", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Hello"}]}]})
    assert text == "Hello" and context["system"] == "s" and "Hello" not in str(context)


def test_a_custom_embedder_can_be_plugged_in(otel):
    import numpy as np

    class FirstWord:
        """Says two questions mean the same when they start with the same word."""
        dimensions = 2

        def embed(self, texts):
            return np.array([[1.0, 0.0] if t.startswith("Refund") else [0.0, 1.0] for t in texts], dtype=np.float32)

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    cache.enable(semantic=True, semantic_threshold=0.99, embedder=FirstWord())
    try:
        with FakeOpenAI() as fake:
            client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
            _ask(client, "Refund please")
            _ask(client, "Refund my order now")
            _ask(client, "Where is my parcel?")
            assert len(fake.requests) == 2
    finally:
        instrumentor.uninstrument()
