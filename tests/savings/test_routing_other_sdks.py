"""Routing rules reach the SDKs patched at their own methods through the same hook: the
model the app asked for is rewritten before the request leaves, and the span says so."""
from __future__ import annotations

from fake_gemini import FakeGemini
from fake_mistral import FakeMistral
from google import genai
from google.genai import types
from mistralai.client import Mistral

from llmledger.instrumentation import attribute
from llmledger.instrumentation._genai import routing
from llmledger.instrumentation.google_genai import GoogleGenAIInstrumentor
from llmledger.instrumentation.mistral import MistralInstrumentor

ROUTES = """
routes:
  - name: short-on-small
    when: {feature: faq, max_input_chars: 100}
    model: mistral-small-latest
  - name: flash-for-faq
    when: {feature: faq-gemini}
    model: gemini-2.5-flash
"""


def test_mistral_calls_are_routed(otel):
    instrumentor = MistralInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    routing.configure(routing.parse_routing(ROUTES))
    try:
        with FakeMistral() as fake:
            client = Mistral(api_key="k", server_url=fake.base_url)
            with attribute(feature="faq"):
                client.chat.complete(model="mistral-large-2411", messages=[{"role": "user", "content": "Hi"}])
                client.chat.complete(model="mistral-large-2411",
                                     messages=[{"role": "user", "content": "x" * 200}])  # too long for the rule
            assert [r.body["model"] for r in fake.requests] == ["mistral-small-latest", "mistral-large-2411"]
    finally:
        instrumentor.uninstrument()
    routed, asked = (dict(s.attributes) for s in otel.spans())
    assert (routed["gen_ai.request.model"], routed["llmledger.routing.requested_model"]) == (
        "mistral-small-latest", "mistral-large-2411")
    assert routed["llmledger.routing.reason"] == "route short-on-small"
    assert "llmledger.routing.requested_model" not in asked


def test_google_genai_calls_are_routed(otel):
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    routing.configure(routing.parse_routing(ROUTES))
    try:
        with FakeGemini() as fake:
            client = genai.Client(api_key="k", http_options=types.HttpOptions(
                base_url=fake.base_url, retry_options=types.HttpRetryOptions(attempts=1)))
            with attribute(feature="faq-gemini"):
                client.models.generate_content(model="gemini-2.5-pro", contents="Hi")
            assert "gemini-2.5-flash:generateContent" in fake.requests[-1].path
    finally:
        instrumentor.uninstrument()
    span = dict(otel.spans()[-1].attributes)
    assert (span["gen_ai.request.model"], span["llmledger.routing.requested_model"]) == (
        "gemini-2.5-flash", "gemini-2.5-pro")
