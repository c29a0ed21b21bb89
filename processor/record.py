"""The one record every stage of the processor meets at: an LLM call.

Receivers decode OTLP, `normalize` turns each LLM span (whatever convention it
follows) into an `LlmCall`, `pricing` fills in its cost, and the ClickHouse
exporter writes it as one row of `llm_spans`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(slots=True)
class LlmCall:
    # Identity and time (span start, nanoseconds since the epoch).
    timestamp_ns: int
    trace_id: str
    span_id: str
    parent_span_id: str = ""
    duration_ns: int = 0

    # What was called.
    provider: str = ""  # gen_ai.provider.name, e.g. "openai", "anthropic", "gcp.gemini"
    operation: str = ""  # gen_ai.operation.name, e.g. "chat", "embeddings"
    request_model: str = ""
    response_model: str = ""
    server_address: str = ""
    service_tier: str = ""  # "" (standard), "batch", "flex", "priority"
    streaming: bool = False
    response_id: str = ""  # the provider's id of its answer: what tells two spans of one call apart
    instrumentation: str = ""  # the instrumentation scope that emitted the span
    # The span records an answer (usage, a response id or a finish reason). A successful
    # span without one is the request half of a streamed call whose answer another span
    # records (logfire).
    answered: bool = True

    # Who caused it.
    service_name: str = ""
    app: str = ""
    environment: str = ""
    user_id: str = ""
    session_id: str = ""
    team: str = ""
    feature: str = ""
    tenant: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    # Usage, in the GenAI conventions' semantics: input includes cache read and
    # cache write tokens; output includes reasoning tokens.
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    usage_reported: bool = False  # False when the span carried no token counts at all
    # Where the counts come from: "provider" (its own usage report), "estimated" (a tool
    # counted the text, e.g. OpenLIT for a stream without usage) or "absent". Only
    # provider counts are priced.
    usage_source: str = "absent"

    # A cost the provider itself billed (a gateway's figure): it is the cost.
    billed_cost: Decimal | None = None
    # A cost another tool estimated (OpenLIT, LiteLLM, pydantic-ai): kept beside ours.
    reported_cost: Decimal | None = None
    reported_cost_source: str = ""  # "openlit", "litellm", "pydantic-ai", "openinference"
    reported_cost_disagrees: bool = False  # differs from our cost beyond rounding

    # Outcome.
    time_to_first_chunk: float | None = None  # seconds
    status: str = "Unset"  # Unset | Ok | Error | Refused (the budget guard stopped it: never sent)
    error_type: str = ""

    # Filled in by pricing.
    cost: Decimal | None = None
    cost_details: dict[str, Decimal] = field(default_factory=dict)
    price_source: str = ""  # "billed" | "price_book" | "catalog" | "" when it has no cost
    price_version: str = ""
    unpriced: bool = False  # it used tokens but no price could be applied (cost NULL)

    # Cost cutting (see pricing.savings): who answered, where routing sent the call, what it saved.
    cache_kind: str = ""  # "" (the provider answered) | "exact" | "semantic"
    cache_source_trace_id: str = ""  # the call whose stored answer a cache hit replayed
    cache_source_span_id: str = ""
    requested_model: str = ""  # what the app asked for, when routing chose another model
    requested_provider: str = ""  # ... and provider, when a fallback went to another one
    routing_reason: str = ""
    saving_strategy: str = ""  # "" | "exact_cache" | "semantic_cache" | "routing" | "fallback"
    saved_cost: Decimal | None = None
    prompt_cache_saved: Decimal = Decimal(0)

    @property
    def model(self) -> str:
        """The model that actually served the call, falling back to the one asked for."""
        return self.response_model or self.request_model
