"""llmledger's in-app half: OpenTelemetry GenAI instrumentation with cost attribution.

The instrumentors live in subpackages, one per SDK (`openai`, `anthropic`, `google_genai`,
`bedrock`, `mistral`, `cohere`), all built on `_genai`, and are loaded by
`opentelemetry-instrument` through entry points; importing this package imports no LLM SDK.
"""
from llmledger.instrumentation.asgi import AttributionMiddleware
from llmledger.instrumentation.attribution import AttributionScope, attribute, current_attributes

__all__ = ["AttributionMiddleware", "AttributionScope", "attribute", "current_attributes"]
