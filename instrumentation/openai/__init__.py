"""Zero-code tracing of the `openai` SDK (1.x to 3.x): GenAI spans and metrics.

    from llmledger.instrumentation.openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument()          # or: opentelemetry-instrument python app.py

`instrument()` accepts the usual `tracer_provider=` and `meter_provider=`, and
`settings=` (a `llmledger.instrumentation._genai.Settings`) instead of reading
the environment; see `_genai.settings` for the variables
(`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`,
`LLMLEDGER_OPENAI_INCLUDE_USAGE`, `LLMLEDGER_OPENAI_PROVIDER`, …).

Traced: chat completions (`create`, `parse`, `stream`), the Responses API
(`create`, `parse`, `stream`), legacy completions and embeddings; sync and async;
streamed or not; `with_raw_response` and `with_streaming_response`; `OpenAI`,
`AzureOpenAI` and any OpenAI-compatible endpoint (the provider follows the
server's address, see `providers`).

If another instrumentation (the official OpenTelemetry one, OpenLLMetry, …)
already patched an endpoint's methods, that endpoint is left to it and a
warning names it, so no call is counted twice. The check runs when
instrumenting and again at the first call, for instrumentors loaded after us.

Neither `openai` nor its HTTP library is imported until `instrument()`.
"""
from __future__ import annotations

import logging

from .._genai import GenAIInstrumentor, Telemetry, foreign_wrapper, unwrap, wrap

logger = logging.getLogger("llmledger.instrumentation")

SCOPE_NAME = "llmledger.instrumentation.openai"

_CLIENT_MODULE = "openai._base_client"
_REQUEST_TARGETS = ("SyncAPIClient.request", "AsyncAPIClient.request")

# The public methods behind each endpoint, where other instrumentations patch.
_RESOURCE_METHODS = {
    "/chat/completions": (
        ("openai.resources.chat.completions", "Completions.create"),
        ("openai.resources.chat.completions", "AsyncCompletions.create"),
        ("openai.resources.chat.completions", "Completions.parse"),
        ("openai.resources.chat.completions", "AsyncCompletions.parse"),
        ("openai.resources.beta.chat.completions", "Completions.parse"),
        ("openai.resources.beta.chat.completions", "AsyncCompletions.parse"),
    ),
    "/responses": (
        ("openai.resources.responses", "Responses.create"),
        ("openai.resources.responses", "AsyncResponses.create"),
        ("openai.resources.responses", "Responses.parse"),
        ("openai.resources.responses", "AsyncResponses.parse"),
    ),
    "/completions": (
        ("openai.resources.completions", "Completions.create"),
        ("openai.resources.completions", "AsyncCompletions.create"),
    ),
    "/embeddings": (
        ("openai.resources.embeddings", "Embeddings.create"),
        ("openai.resources.embeddings", "AsyncEmbeddings.create"),
    ),
}


class OpenAIInstrumentor(GenAIInstrumentor):
    sdk = "openai"
    supported = ">= 1.0, < 4"
    _patches = None  # the active RequestPatches (BaseInstrumentor is a singleton: no __init__)

    def _patch(self, **kwargs) -> None:
        from .patches import ENDPOINTS, RequestPatches, SdkTypes

        telemetry = Telemetry.for_instrumentor(SCOPE_NAME, kwargs)
        patches = RequestPatches(telemetry, SdkTypes(), ENDPOINTS)
        _leave_to_other_instrumentations(patches)
        patches.check_at_first_call = lambda: _leave_to_other_instrumentations(patches)
        for target in _REQUEST_TARGETS:
            wrapper = patches.traced_request if target.startswith("Sync") else patches.traced_async_request
            wrap(_CLIENT_MODULE, target, wrapper)
        self._patches = patches

    def _uninstrument(self, **kwargs) -> None:
        for target in _REQUEST_TARGETS:
            unwrap(_CLIENT_MODULE, target)
        self._patches = None


def _leave_to_other_instrumentations(patches) -> None:
    """Stop tracing endpoints that another instrumentation already traces."""
    for path, methods in _RESOURCE_METHODS.items():
        if path not in patches.endpoints:
            continue
        for module, target in methods:
            other = foreign_wrapper(module, target)
            if other is not None:
                logger.warning(
                    "llmledger: %s is already tracing OpenAI %s (%s.%s); llmledger leaves %s calls to it "
                    "so that they are not counted twice. Uninstrument one of the two to silence this.",
                    other, path, module, target, path,
                )
                del patches.endpoints[path]
                break
