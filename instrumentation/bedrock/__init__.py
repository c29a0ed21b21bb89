"""Zero-code tracing of AWS Bedrock through `boto3` / `botocore`: GenAI spans and metrics
for the `bedrock-runtime` model calls.

    from llmledger.instrumentation.bedrock import BedrockInstrumentor
    BedrockInstrumentor().instrument()         # or: opentelemetry-instrument python app.py

`instrument()` accepts the usual `tracer_provider=` and `meter_provider=`, and
`settings=` (a `llmledger.instrumentation._genai.Settings`) instead of reading the
environment.

Traced: `converse`, `converse_stream`, `invoke_model` and
`invoke_model_with_response_stream` of a `bedrock-runtime` client, with provider
`aws.bedrock` and the model id as called (region-prefixed inference profiles such as
`us.anthropic.…` included; the processor prices them, see `processor/pricing`).
Converse usage comes from the API; `invoke_model` bodies are read per model family
(Anthropic, Amazon Nova and Titan, Meta Llama, Mistral, Cohere), with Bedrock's own
token counts (response headers, `amazon-bedrock-invocationMetrics`) for the rest.
botocore is synchronous; aiobotocore's clients are not traced.

If another instrumentation (OpenLLMetry's, the botocore instrumentation's Bedrock
extension) already patched botocore's API call, llmledger leaves it to them with a
warning naming it.
"""
from __future__ import annotations

import logging

from .._genai import GenAIInstrumentor, Telemetry, foreign_wrapper, unwrap, wrap

logger = logging.getLogger("llmledger.instrumentation")

SCOPE_NAME = "llmledger.instrumentation.bedrock"

_CLIENT_MODULE = "botocore.client"
_TARGET = "BaseClient._make_api_call"


class BedrockInstrumentor(GenAIInstrumentor):
    sdk = "botocore"
    supported = ">= 1.34, < 2"
    _patches = None  # the active ApiCallPatch (BaseInstrumentor is a singleton: no __init__)

    def _patch(self, **kwargs) -> None:
        from .patches import ApiCallPatch

        patch = ApiCallPatch(Telemetry.for_instrumentor(SCOPE_NAME, kwargs))
        _leave_to_other_instrumentation(patch)
        patch.check_at_first_call = lambda: _leave_to_other_instrumentation(patch)
        wrap(_CLIENT_MODULE, _TARGET, patch.traced_api_call)
        self._patches = patch

    def _uninstrument(self, **kwargs) -> None:
        unwrap(_CLIENT_MODULE, _TARGET)
        self._patches = None


def _leave_to_other_instrumentation(patch) -> None:
    if not patch.enabled:
        return
    other = foreign_wrapper(_CLIENT_MODULE, _TARGET)
    # Many tools wrap botocore's API call (X-Ray, ...); only those named for Bedrock
    # (see `_genai.patching.KNOWN_INSTRUMENTATIONS`) count Bedrock's tokens.
    if other is not None and "bedrock" in other.lower():
        logger.warning(
            "llmledger: %s is already tracing Bedrock calls (%s.%s); llmledger leaves them to it so that they are "
            "not counted twice. Uninstrument one of the two to silence this.", other, _CLIENT_MODULE, _TARGET)
        patch.enabled = False
