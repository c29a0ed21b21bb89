"""What a span says about caching and routing: read into the call, valued by `pricing.savings`.

The instrumentation (`llmledger.instrumentation._genai.cache` and `.routing`) writes:

    llmledger.cache.hit               true on a call answered from the response cache
    llmledger.cache.kind              exact | semantic
    llmledger.cache.source_trace_id   the call whose stored answer was replayed
    llmledger.cache.source_span_id
    llmledger.routing.requested_model the model the app asked for, when routing changed it
    llmledger.routing.requested_provider  the provider asked for, when a fallback changed it
    llmledger.routing.kind            rule | budget | fallback
    llmledger.routing.reason          which rule, budget or provider error
"""
from __future__ import annotations

from llmledger.processor.record import LlmCall

CACHE_HIT_KEY = "llmledger.cache.hit"
CACHE_KIND_KEY = "llmledger.cache.kind"
CACHE_SOURCE_TRACE_KEY = "llmledger.cache.source_trace_id"
CACHE_SOURCE_SPAN_KEY = "llmledger.cache.source_span_id"
REQUESTED_MODEL_KEY = "llmledger.routing.requested_model"
REQUESTED_PROVIDER_KEY = "llmledger.routing.requested_provider"
ROUTING_KIND_KEY = "llmledger.routing.kind"
ROUTING_REASON_KEY = "llmledger.routing.reason"

CACHE_KINDS = frozenset({"exact", "semantic"})
# How a routing kind is counted among the savings strategies.
ROUTING_STRATEGIES = {"rule": "routing", "budget": "routing", "fallback": "fallback"}

_MAX_TEXT = 256  # these values become LowCardinality columns: keep them short


def read_savings(call: LlmCall, attributes: dict[str, str]) -> None:
    """Fill the call's cache and routing fields from its span attributes."""
    if attributes.get(CACHE_HIT_KEY) == "true":
        kind = attributes.get(CACHE_KIND_KEY, "exact")
        call.cache_kind = kind if kind in CACHE_KINDS else "exact"
        call.cache_source_trace_id = attributes.get(CACHE_SOURCE_TRACE_KEY, "")[:32]
        call.cache_source_span_id = attributes.get(CACHE_SOURCE_SPAN_KEY, "")[:16]
        call.saving_strategy = f"{call.cache_kind}_cache"
        return
    requested = attributes.get(REQUESTED_MODEL_KEY, "")[:_MAX_TEXT]
    if requested and requested != call.request_model:
        call.requested_model = requested
        call.requested_provider = attributes.get(REQUESTED_PROVIDER_KEY, "")[:_MAX_TEXT]
        call.routing_reason = attributes.get(ROUTING_REASON_KEY, "")[:_MAX_TEXT]
        call.saving_strategy = ROUTING_STRATEGIES.get(attributes.get(ROUTING_KIND_KEY, "rule"), "routing")
