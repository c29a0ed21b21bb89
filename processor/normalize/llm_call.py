"""Reading one span, in whatever convention it follows, as an `LlmCall`."""
from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation

from llmledger.processor.record import LlmCall

from .attribution import Attribution, attribute_call
from .conventions import (
    DEPRECATED_SYSTEM_KEY,
    ERROR_TYPE_KEY,
    LLM_MARKER_KEYS,
    NON_CALL_OPERATIONS,
    OPENINFERENCE_CALL_KINDS,
    OPENINFERENCE_INVOCATION_PARAMETERS_KEY,
    OPENINFERENCE_OPERATIONS,
    OPENINFERENCE_PROVIDER_KEY,
    OPENINFERENCE_SPAN_KIND_KEY,
    OPENINFERENCE_SYSTEM_KEY,
    OPENLLMETRY_NON_CALL_KINDS,
    OPENLLMETRY_OPERATIONS,
    OPENLLMETRY_REQUEST_TYPE_KEY,
    OPENLLMETRY_SPAN_KIND_KEY,
    OPERATION_KEY,
    PROVIDER_KEY,
    PROVIDER_NAMES,
    REPORTED_COST_KEYS,
    REQUEST_MODEL_KEYS,
    REQUEST_SERVICE_TIER_KEYS,
    RESPONSE_MODEL_KEYS,
    RESPONSE_SERVICE_TIER_KEYS,
    SDK_NAME_KEY,
    SERVER_ADDRESS_KEY,
    STANDARD_SERVICE_TIERS,
    STREAM_FLAG_KEYS,
    TIME_TO_FIRST_CHUNK_KEYS,
    first_value,
)
from .savings import read_savings
from .usage import Usage, read_usage


def is_llm_call(attributes: dict[str, str]) -> bool:
    """A model, an LLM marker, and not an agent/workflow/tool span (those may carry summed usage)."""
    if not (first_value(attributes, REQUEST_MODEL_KEYS) or first_value(attributes, RESPONSE_MODEL_KEYS)):
        return False
    if attributes.keys().isdisjoint(LLM_MARKER_KEYS):
        return False
    if attributes.get(OPERATION_KEY) in NON_CALL_OPERATIONS:
        return False
    openinference_kind = attributes.get(OPENINFERENCE_SPAN_KIND_KEY)
    if openinference_kind is not None and openinference_kind.upper() not in OPENINFERENCE_CALL_KINDS:
        return False
    return attributes.get(OPENLLMETRY_SPAN_KIND_KEY) not in OPENLLMETRY_NON_CALL_KINDS


def provider_name(attributes: dict[str, str]) -> str:
    """gen_ai.provider.name, from whichever attribute the span names its provider in."""
    name = attributes.get(PROVIDER_KEY) or attributes.get(DEPRECATED_SYSTEM_KEY)
    if not name:
        # OpenInference: llm.provider is who serves the call, llm.system whose API it is.
        provider = (attributes.get(OPENINFERENCE_PROVIDER_KEY) or "").lower()
        system = (attributes.get(OPENINFERENCE_SYSTEM_KEY) or "").lower()
        if provider == "google" and system == "vertexai":
            return "gcp.vertex_ai"
        if provider == "azure" and system and system != "openai":
            return "azure.ai.inference"
        name = provider or system
        if not name:
            return ""
    lowered = name.lower()
    return PROVIDER_NAMES.get(lowered, lowered)


def _operation(attributes: dict[str, str]) -> str:
    operation = attributes.get(OPERATION_KEY)
    if operation:
        return operation
    request_type = attributes.get(OPENLLMETRY_REQUEST_TYPE_KEY)
    if request_type:
        return OPENLLMETRY_OPERATIONS.get(request_type, request_type)
    return OPENINFERENCE_OPERATIONS.get((attributes.get(OPENINFERENCE_SPAN_KIND_KEY) or "").upper(), "")


def _service_tier(attributes: dict[str, str]) -> str:
    # What the provider says it used wins over what was asked for.
    tier = first_value(attributes, RESPONSE_SERVICE_TIER_KEYS) or first_value(attributes, REQUEST_SERVICE_TIER_KEYS)
    tier = tier.lower()
    return "" if tier in STANDARD_SERVICE_TIERS else tier


def _streaming(attributes: dict[str, str]) -> bool:
    for key in STREAM_FLAG_KEYS:
        flag = attributes.get(key)
        if flag is not None:
            return flag == "true"
    parameters = attributes.get(OPENINFERENCE_INVOCATION_PARAMETERS_KEY)
    if parameters and '"stream"' in parameters:  # parse the JSON only when it can say so
        try:
            decoded = json.loads(parameters)
        except ValueError:
            return False
        return isinstance(decoded, dict) and decoded.get("stream") is True
    return False


def _time_to_first_chunk(attributes: dict[str, str]) -> float | None:
    for key in TIME_TO_FIRST_CHUNK_KEYS:
        text = attributes.get(key)
        if text is not None:
            try:
                seconds = float(text)
            except ValueError:
                return None
            return seconds if math.isfinite(seconds) and seconds >= 0 else None
    return None


def _reported_cost(attributes: dict[str, str], usage: Usage) -> Decimal | None:
    """The cost as the span states it, parsed from its text (never through float arithmetic)."""
    for key in REPORTED_COST_KEYS:
        text = attributes.get(key)
        if text is None:
            continue
        try:
            cost = Decimal(text)
        except InvalidOperation:
            continue
        if not cost.is_finite() or cost < 0:
            continue
        # OpenLIT writes 0 when the model is missing from its price list: not a price.
        if cost == 0 and (usage.input_tokens or usage.output_tokens):
            continue
        return cost
    return None


def read_llm_call(
    attributes: dict[str, str],
    *,
    timestamp_ns: int,
    duration_ns: int,
    trace_id: str,
    span_id: str,
    parent_span_id: str,
    status: str,
    service_name: str,
    defaults: Attribution,
) -> LlmCall:
    """The call a span (already known to be one, see `is_llm_call`) describes.

    Raises `InvalidSpan` when a token count is not a count.
    """
    provider = provider_name(attributes)
    usage = read_usage(
        attributes,
        input_excludes_cache=provider == "anthropic" and attributes.get(SDK_NAME_KEY) == "openlit",
    )
    call = LlmCall(
        timestamp_ns=timestamp_ns,
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        duration_ns=duration_ns,
        provider=provider,
        operation=_operation(attributes),
        request_model=first_value(attributes, REQUEST_MODEL_KEYS),
        response_model=first_value(attributes, RESPONSE_MODEL_KEYS),
        server_address=attributes.get(SERVER_ADDRESS_KEY, ""),
        service_tier=_service_tier(attributes),
        streaming=_streaming(attributes),
        service_name=service_name,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        usage_reported=usage.reported,
        reported_cost=_reported_cost(attributes, usage),
        time_to_first_chunk=_time_to_first_chunk(attributes),
        status=status,
        error_type=attributes.get(ERROR_TYPE_KEY, ""),
    )
    attribute_call(call, attributes, defaults)
    read_savings(call, attributes)
    return call
