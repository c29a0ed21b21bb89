"""Zero-code tracing of Google's Gen AI SDK (`google-genai`): GenAI spans and metrics for
the Gemini API and Vertex AI backends.

    from llmledger.instrumentation.google_genai import GoogleGenAIInstrumentor
    GoogleGenAIInstrumentor().instrument()     # or: opentelemetry-instrument python app.py

`instrument()` accepts the usual `tracer_provider=` and `meter_provider=`, and
`settings=` (a `llmledger.instrumentation._genai.Settings`) instead of reading the
environment.

Traced: `models.generate_content`, `generate_content_stream`, `embed_content`, sync and
`client.aio`, and everything built on them (chats, automatic function calling, automatic
continuation), on `genai.Client()` and `genai.Client(vertexai=True)`. Each HTTP call to
the model is one CLIENT span `generate_content {model}` / `embeddings {model}` with
provider `gcp.gemini` or `gcp.vertex_ai`; thinking tokens count as output, cached content
as input (see `readers`). `count_tokens` and `compute_tokens` are free: no span.

The shared hook gives these calls routing rules, the budget guard, the response cache (a
hit is the SDK's own response object, streamed or not) and the routing file's fallbacks
(see `exchange`).

If another instrumentation (the official OpenTelemetry one, ...) already patched the
`Models` methods, llmledger leaves the calls to it with a warning naming it.

`google-genai` is not imported until `instrument()`.
"""
from __future__ import annotations

import logging

from .._genai import GenAIInstrumentor, Telemetry, foreign_wrapper, unwrap, wrap

logger = logging.getLogger("llmledger.instrumentation")

SCOPE_NAME = "llmledger.instrumentation.google_genai"

_CLIENT_MODULE = "google.genai._api_client"
_TARGETS = ("BaseApiClient.request", "BaseApiClient.request_streamed",
            "BaseApiClient.async_request", "BaseApiClient.async_request_streamed")

# The public methods other instrumentations patch.
_PUBLIC_METHODS = tuple(
    ("google.genai.models", f"{cls}.{method}")
    for cls in ("Models", "AsyncModels")
    for method in ("generate_content", "generate_content_stream", "embed_content")
)


class GoogleGenAIInstrumentor(GenAIInstrumentor):
    sdk = "google-genai"
    supported = ">= 1.0, < 4"
    _patches = None  # the active RequestPatches (BaseInstrumentor is a singleton: no __init__)

    def _patch(self, **kwargs) -> None:
        from .patches import RequestPatches

        patches = RequestPatches(Telemetry.for_instrumentor(SCOPE_NAME, kwargs))
        _leave_to_other_instrumentation(patches)
        patches.check_at_first_call = lambda: _leave_to_other_instrumentation(patches)
        for target, wrapper in zip(_TARGETS, (patches.traced_request, patches.traced_request_streamed,
                                              patches.traced_async_request, patches.traced_async_request_streamed)):
            wrap(_CLIENT_MODULE, target, wrapper)
        self._patches = patches

    def _uninstrument(self, **kwargs) -> None:
        for target in _TARGETS:
            unwrap(_CLIENT_MODULE, target)
        self._patches = None


def _leave_to_other_instrumentation(patches) -> None:
    if not patches.enabled:
        return
    for module, target in _PUBLIC_METHODS:
        other = foreign_wrapper(module, target)
        if other is not None:
            logger.warning(
                "llmledger: %s is already tracing Google Gen AI calls (%s.%s); llmledger leaves them to it so "
                "that they are not counted twice. Uninstrument one of the two to silence this.",
                other, module, target,
            )
            patches.enabled = False
            return
