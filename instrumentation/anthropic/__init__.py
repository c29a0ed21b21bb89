"""Zero-code tracing of the `anthropic` SDK: GenAI spans and metrics for Messages calls.

    from llmledger.instrumentation.anthropic import AnthropicInstrumentor
    AnthropicInstrumentor().instrument()       # or: opentelemetry-instrument python app.py

`instrument()` accepts the usual `tracer_provider=` and `meter_provider=`, and
`settings=` (a `llmledger.instrumentation._genai.Settings`) instead of reading the
environment (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`, ...).

Traced: `messages.create` (streamed or not), `messages.parse`, the
`messages.stream(...)` helper, `beta.messages`, sync and async,
`with_raw_response` and `with_streaming_response`, and the Bedrock
(`aws.bedrock`), Vertex (`gcp.vertex_ai`) and Foundry clients. Each call is one
CLIENT span `chat {model}` whose `gen_ai.usage.input_tokens` includes cache reads
and writes. `count_tokens` is free and gets no span from llmledger.

No double counting:
- another instrumentation that already patched the Messages methods (OpenLLMetry,
  OpenInference, ...) is left to trace them, with a warning naming it; checked when
  instrumenting and again at the first call, for instrumentors loaded after us;
- the SDK's own built-in span (anthropic 2.x) is skipped for the calls llmledger
  traces, as it would carry the same tokens (see `patches`).

Neither `anthropic` nor its HTTP library is imported until `instrument()`.
"""
from __future__ import annotations

import logging

from .._genai import GenAIInstrumentor, Telemetry, foreign_wrapper, unwrap, wrap

logger = logging.getLogger("llmledger.instrumentation")

SCOPE_NAME = "llmledger.instrumentation.anthropic"

_CLIENT_MODULE = "anthropic._base_client"
_REQUEST_TARGETS = ("SyncAPIClient.request", "AsyncAPIClient.request")
_SDK_SPAN_TARGET = "start_api_call_span"  # the SDK's own tracing, anthropic >= 2

# The public methods where other instrumentations patch Messages calls.
_MESSAGES_METHODS = tuple(
    (module, f"{cls}.{method}")
    for module in ("anthropic.resources.messages", "anthropic.resources.beta.messages")
    for cls in ("Messages", "AsyncMessages")
    for method in ("create", "stream")
)


class AnthropicInstrumentor(GenAIInstrumentor):
    sdk = "anthropic"
    supported = ">= 0.40, < 3"
    _patches = None  # the active RequestPatches (BaseInstrumentor is a singleton: no __init__)

    def _patch(self, **kwargs) -> None:
        from .patches import RequestPatches, SdkTypes, skip_sdk_span

        telemetry = Telemetry.for_instrumentor(SCOPE_NAME, kwargs)
        patches = RequestPatches(telemetry, SdkTypes())
        _leave_to_other_instrumentation(patches)
        patches.check_at_first_call = lambda: _leave_to_other_instrumentation(patches)
        for target in _REQUEST_TARGETS:
            wrapper = patches.traced_request if target.startswith("Sync") else patches.traced_async_request
            wrap(_CLIENT_MODULE, target, wrapper)
        if wrap(_CLIENT_MODULE, _SDK_SPAN_TARGET, skip_sdk_span):
            logger.info(
                "llmledger: the anthropic SDK traces its own API calls; for the Messages calls llmledger "
                "traces, llmledger's span replaces the SDK's so that tokens are counted once"
            )
        self._patches = patches

    def _uninstrument(self, **kwargs) -> None:
        for target in (*_REQUEST_TARGETS, _SDK_SPAN_TARGET):
            unwrap(_CLIENT_MODULE, target)
        self._patches = None


def _leave_to_other_instrumentation(patches) -> None:
    """Stop tracing Messages calls when another instrumentation already traces them."""
    if not patches.enabled:
        return
    for module, target in _MESSAGES_METHODS:
        other = foreign_wrapper(module, target)
        if other is not None:
            logger.warning(
                "llmledger: %s is already tracing Anthropic messages (%s.%s); llmledger leaves Messages "
                "calls to it so that they are not counted twice. Uninstrument one of the two to silence this.",
                other, module, target,
            )
            patches.enabled = False
            return
