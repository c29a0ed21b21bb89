"""The Vercel AI SDK's spans (`experimental_telemetry`), read as GenAI ones.

The SDK wraps each provider call (`ai.generateText.doGenerate`, `ai.streamText.doStream`,
`ai.generateObject.doGenerate`, `ai.embed.doEmbed` …) in a span of the function that made
it (`ai.generateText` …, which sums the usage of its steps and is not a call). The call
spans name the model and the token totals with gen_ai.* names, but:
- the provider as the SDK's provider id, `<provider>.<api>` (`openai.chat`,
  `anthropic.messages`, `google.generative-ai`);
- the cache and reasoning breakdown only under ai.usage.* (`inputTokenDetails.*` since
  AI SDK 6, `cachedInputTokens` / `reasoningTokens` in 5), and embedding spans no gen_ai.*
  at all;
- who made the call in `ai.telemetry.metadata.<key>`, the app's own metadata, and the
  function in `ai.telemetry.functionId`.
`call_attributes` gives the standard names for those, for reading the call; the span is
stored as it came.
"""
from __future__ import annotations

from .conventions import (
    APP_KEY, FEATURE_KEY, OPERATION_KEY, PROVIDER_KEY, SESSION_ID_KEY, TAG_PREFIX, TEAM_KEY, TENANT_KEY, USER_ID_KEYS)

OPERATION_ID_KEY = "ai.operationId"  # on every span the SDK makes
_PROVIDER_ID_KEY = "ai.model.provider"
_MODEL_ID_KEY = "ai.model.id"
_FUNCTION_KEY = "ai.telemetry.functionId"
_METADATA_PREFIX = "ai.telemetry.metadata."

# The provider id's first part -> gen_ai.provider.name, where the two differ.
_PROVIDERS = {
    "amazon-bedrock": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "azure": "azure.ai.openai",
    "google": "gcp.gemini",
    "vertex": "gcp.vertex_ai",
    "mistral": "mistral_ai",
    "xai": "x_ai",
    "togetherai": "together_ai",
}

# Standard name <- the SDK's names, newest first.
_USAGE = (
    ("gen_ai.usage.cache_read.input_tokens", ("ai.usage.inputTokenDetails.cacheReadTokens", "ai.usage.cachedInputTokens")),
    ("gen_ai.usage.cache_write.input_tokens", ("ai.usage.inputTokenDetails.cacheWriteTokens",)),
    ("gen_ai.usage.reasoning.output_tokens", ("ai.usage.outputTokenDetails.reasoningTokens", "ai.usage.reasoningTokens")),
)
_EMBEDDING_USAGE = (("gen_ai.usage.input_tokens", ("ai.usage.tokens",)),)

# Metadata keys apps commonly set (as tracing tools' guides for the SDK teach) -> ours.
# Metadata already named as ours (llmledger.app, user.id, llmledger.tag.tier …) is taken as is.
_METADATA_ALIASES = {"userId": USER_ID_KEYS[0], "sessionId": SESSION_ID_KEY}
_ATTRIBUTION_KEYS = frozenset({APP_KEY, TEAM_KEY, FEATURE_KEY, TENANT_KEY, SESSION_ID_KEY, *USER_ID_KEYS})


def call_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """`attributes` of a span the SDK made (it has `ai.operationId`), with the standard names
    of what a provider call span says added; the function spans' attributes unchanged."""
    operation_id = attributes[OPERATION_ID_KEY]
    kind = operation_id.rpartition(".")[2]
    if kind not in ("doGenerate", "doStream", "doEmbed"):
        return attributes  # the function's span: its usage is its calls'
    found = dict(attributes)
    standard = _USAGE
    if kind == "doEmbed":
        found.setdefault("gen_ai.request.model", attributes.get(_MODEL_ID_KEY, ""))
        standard += _EMBEDDING_USAGE
    found.setdefault(OPERATION_KEY, "embeddings" if kind == "doEmbed" else "chat")
    found["gen_ai.request.stream"] = "true" if kind == "doStream" else "false"
    provider_id = attributes.get(_PROVIDER_ID_KEY, "")
    if provider_id and PROVIDER_KEY not in attributes:
        found[PROVIDER_KEY] = _provider(provider_id)
    for name, spellings in standard:
        if name not in found:
            for spelling in spellings:
                if spelling in attributes:
                    found[name] = attributes[spelling]
                    break
    for key, value in attributes.items():
        if key.startswith(_METADATA_PREFIX):
            name = key[len(_METADATA_PREFIX):]
            name = _METADATA_ALIASES.get(name, name)
            if name in _ATTRIBUTION_KEYS or name.startswith(TAG_PREFIX):
                found.setdefault(name, value)
    function = attributes.get(_FUNCTION_KEY)
    if function:
        found.setdefault(FEATURE_KEY, function)
    return found


def _provider(provider_id: str) -> str:
    family, _, api = provider_id.lower().partition(".")
    if family == "google" and api.startswith("vertex"):
        return "gcp.vertex_ai"
    return _PROVIDERS.get(family, family)
