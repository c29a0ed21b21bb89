"""Which span attributes mean what, across the LLM instrumentation conventions.

Keys are listed best first: the current OpenTelemetry GenAI conventions, then their
deprecated names, then OpenLLMetry (traceloop), OpenInference (Arize Phoenix) and
OpenLIT. Token semantics per source are documented in `usage.py`. The Vercel AI SDK's
own names are translated to these before a span is read (`vercel_ai.py`).
"""
from __future__ import annotations


def first_value(attributes: dict[str, str], keys: tuple[str, ...]) -> str:
    """The first non-empty value among `keys`, which are listed best first."""
    for key in keys:
        value = attributes.get(key)
        if value:
            return value
    return ""


# What was called.
REQUEST_MODEL_KEYS = (
    "gen_ai.request.model",
    "llm.model_name",  # OpenInference
    "embedding.model_name",  # OpenInference EMBEDDING spans
    "llm.request.model",  # OpenLLMetry before it moved to gen_ai.*
)
RESPONSE_MODEL_KEYS = ("gen_ai.response.model", "llm.response.model")
OPERATION_KEY = "gen_ai.operation.name"
PROVIDER_KEY = "gen_ai.provider.name"
DEPRECATED_SYSTEM_KEY = "gen_ai.system"
OPENLLMETRY_REQUEST_TYPE_KEY = "llm.request.type"
OPENLLMETRY_SPAN_KIND_KEY = "traceloop.span.kind"
OPENINFERENCE_SPAN_KIND_KEY = "openinference.span.kind"
OPENINFERENCE_PROVIDER_KEY = "llm.provider"
OPENINFERENCE_SYSTEM_KEY = "llm.system"
OPENINFERENCE_INVOCATION_PARAMETERS_KEY = "llm.invocation_parameters"
OPENINFERENCE_OUTPUT_KEY = "output.value"  # the provider's answer, JSON (see payloads.py)
RESPONSE_ID_KEY = "gen_ai.response.id"
FINISH_REASON_KEYS = ("gen_ai.response.finish_reasons", "llm.finish_reason")
# LiteLLM writes its own call id as gen_ai.response.id when the call failed.
LITELLM_CALL_ID_KEY = "litellm.call_id"
SERVER_ADDRESS_KEY = "server.address"
ERROR_TYPE_KEY = "error.type"
# OpenLIT stamps this on its own spans (a resource attribute name, set per span).
SDK_NAME_KEY = "telemetry.sdk.name"

# Any of these (with a model) makes a span an LLM call candidate.
LLM_MARKER_KEYS = frozenset({
    OPERATION_KEY,
    PROVIDER_KEY,
    DEPRECATED_SYSTEM_KEY,
    OPENLLMETRY_REQUEST_TYPE_KEY,
    OPENINFERENCE_SPAN_KIND_KEY,
    OPENINFERENCE_PROVIDER_KEY,
    OPENINFERENCE_SYSTEM_KEY,
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.total_tokens",
})

# Token counts.
INPUT_TOKEN_KEYS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",  # deprecated GenAI name, also OpenLLMetry
    "llm.token_count.prompt",  # OpenInference
    "llm.usage.prompt_tokens",  # early OpenLLMetry
)
OUTPUT_TOKEN_KEYS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
CACHE_READ_TOKEN_KEYS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",  # OpenLLMetry, OpenLIT
    "llm.token_count.prompt_details.cache_read",
    "gen_ai.usage.details.cache_read_tokens",  # pydantic-ai
)
CACHE_WRITE_TOKEN_KEYS = (
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",  # the older spelling
    "gen_ai.usage.cache_creation_input_tokens",  # OpenLLMetry, OpenLIT
    "llm.token_count.prompt_details.cache_write",
    "gen_ai.usage.details.cache_write_tokens",  # pydantic-ai
)
REASONING_TOKEN_KEYS = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",  # OpenLIT
    "llm.token_count.completion_details.reasoning",
    "gen_ai.usage.details.reasoning_tokens",  # pydantic-ai
)
# Provider usage objects carried whole, read for the breakdown a span lacks (payloads.py).
LOGFIRE_RAW_USAGE_KEY = "gen_ai.usage.raw"  # JSON
LITELLM_USAGE_OBJECT_KEY = "metadata.usage_object"  # a Python literal
TOKEN_KEY_GROUPS = (
    INPUT_TOKEN_KEYS,
    OUTPUT_TOKEN_KEYS,
    CACHE_READ_TOKEN_KEYS,
    CACHE_WRITE_TOKEN_KEYS,
    REASONING_TOKEN_KEYS,
)

# A cost the provider itself billed, in USD, set by a gateway or an instrumentation that
# carries the provider's own figure (OpenRouter's usage.cost). It is the call's cost.
BILLED_COST_KEY = "llmledger.billed_cost"
# Costs other tools estimated from their own price lists, in USD, with the tool's name:
# kept beside ours, never in its place. OpenLIT's list can be stale (and is 0 offline).
REPORTED_COST_KEYS = (
    ("gen_ai.usage.cost", "openlit"),
    ("gen_ai.cost.total_cost", "litellm"),
    ("operation.cost", "pydantic-ai"),
    ("llm.cost.total", "openinference"),
)

STREAM_FLAG_KEYS = (
    "gen_ai.request.stream",
    "llm.is_streaming",  # OpenLLMetry, LiteLLM ("True")
    "gen_ai.request.is_stream",  # OpenLIT
)
TRUE_FLAGS = frozenset({"true", "1"})  # compared lowercased
# logfire records a streamed call's answer as a log span with this message template.
LOGFIRE_TEMPLATE_KEY = "logfire.msg_template"
LOGFIRE_STREAM_TEMPLATE = "streaming response from"
TIME_TO_FIRST_CHUNK_KEYS = (
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.client.operation.time_to_first_chunk",  # pydantic-ai
    "gen_ai.server.time_to_first_token",  # OpenLIT, also seconds
)
RESPONSE_SERVICE_TIER_KEYS = (
    "openai.response.service_tier",
    "gen_ai.openai.response.service_tier",  # deprecated
    "gen_ai.response.service_tier",  # OpenLIT
    "anthropic.response.service_tier",
    "aws.bedrock.response.service_tier",  # llmledger's Bedrock, Google Gen AI and Mistral instrumentors
    "gcp.gen_ai.response.service_tier",
    "mistral.response.service_tier",
)
REQUEST_SERVICE_TIER_KEYS = (
    "openai.request.service_tier",
    "gen_ai.openai.request.service_tier",
    "gen_ai.request.service_tier",
    "anthropic.request.service_tier",
    "aws.bedrock.request.service_tier",
    "gcp.gen_ai.request.service_tier",
    "mistral.request.service_tier",
)

# The llmledger budget guard refuses a call with these errors, before it is sent.
REFUSED_ERROR_TYPES = frozenset({"BudgetExceededError", "BudgetServiceUnavailableError"})

# Spans that orchestrate LLM calls rather than being one. They may carry the
# summed usage of their children, which must not be counted again.
NON_CALL_OPERATIONS = frozenset({
    "invoke_agent",
    "create_agent",
    "execute_tool",
    "invoke_workflow",
    "retrieval",
    # OpenLIT's own operation names for framework, agent and vector-store spans.
    "framework",
    "agent",
    "execute_task",
    "vectordb",
})
OPENINFERENCE_CALL_KINDS = frozenset({"LLM", "EMBEDDING"})
OPENLLMETRY_NON_CALL_KINDS = frozenset({"workflow", "task", "agent", "tool"})

# OpenLLMetry's llm.request.type -> gen_ai.operation.name.
OPENLLMETRY_OPERATIONS = {
    "chat": "chat",
    "completion": "text_completion",
    "embedding": "embeddings",
    "rerank": "rerank",
}
OPENINFERENCE_OPERATIONS = {"LLM": "chat", "EMBEDDING": "embeddings"}

# Deprecated gen_ai.system values and other instrumentations' spellings ->
# gen_ai.provider.name. Looked up lowercased; unknown names pass through lowercased.
PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "az.ai.openai": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "az.ai.inference": "azure.ai.inference",
    "vertex_ai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "google.ai.studio": "gcp.gemini",
    "aws.bedrock": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "aws": "aws.bedrock",
    "azure": "azure.ai.openai",  # OpenInference llm.provider for Azure OpenAI
    "google": "gcp.gemini",  # OpenInference llm.provider; Vertex AI is told apart by llm.system
    "mistralai": "mistral_ai",
    "mistral": "mistral_ai",
    "xai": "x_ai",
    "ibm.watson.ai": "ibm.watsonx.ai",
    "watsonx": "ibm.watsonx.ai",
}

# Service tiers that mean "standard price".
STANDARD_SERVICE_TIERS = frozenset({"", "default", "auto", "standard", "standard_only"})

# What llmledger adds to the trace row of an LLM span that is not counted as a call of its
# own: the span (and trace) of the one that is.
DUPLICATE_OF_KEY = "llmledger.duplicate_of"
DUPLICATE_OF_TRACE_KEY = "llmledger.duplicate_of_trace"

# Attribution.
USER_ID_KEYS = ("user.id", "enduser.id")
SESSION_ID_KEY = "session.id"
ENVIRONMENT_KEYS = ("deployment.environment.name", "deployment.environment")
SERVICE_NAME_KEY = "service.name"
APP_KEY = "llmledger.app"
TEAM_KEY = "llmledger.team"
FEATURE_KEY = "llmledger.feature"
TENANT_KEY = "llmledger.tenant"
TAG_PREFIX = "llmledger.tag."
