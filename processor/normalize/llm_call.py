"""Reading one span, in whatever convention it follows, as an `LlmCall`."""
from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from llmledger.processor.record import LlmCall

from .attribution import Attribution, attribute_call
from .conventions import (
    BILLED_COST_KEY,
    CACHE_READ_TOKEN_KEYS,
    DEPRECATED_SYSTEM_KEY,
    ERROR_TYPE_KEY,
    FINISH_REASON_KEYS,
    LITELLM_CALL_ID_KEY,
    LITELLM_USAGE_OBJECT_KEY,
    LLM_MARKER_KEYS,
    LOGFIRE_RAW_USAGE_KEY,
    LOGFIRE_STREAM_TEMPLATE,
    LOGFIRE_TEMPLATE_KEY,
    NON_CALL_OPERATIONS,
    OPENINFERENCE_CALL_KINDS,
    OPENINFERENCE_INVOCATION_PARAMETERS_KEY,
    OPENINFERENCE_OPERATIONS,
    OPENINFERENCE_OUTPUT_KEY,
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
    REFUSED_ERROR_TYPES,
    REPORTED_COST_KEYS,
    REQUEST_MODEL_KEYS,
    REQUEST_SERVICE_TIER_KEYS,
    RESPONSE_ID_KEY,
    RESPONSE_MODEL_KEYS,
    RESPONSE_SERVICE_TIER_KEYS,
    SDK_NAME_KEY,
    SERVER_ADDRESS_KEY,
    STANDARD_SERVICE_TIERS,
    STREAM_FLAG_KEYS,
    TIME_TO_FIRST_CHUNK_KEYS,
    TRUE_FLAGS,
    first_value,
)
from .payloads import billed_cost, json_object, openinference_answer, python_literal, usage_breakdown
from .savings import read_savings
from .usage import Usage, has_breakdown, read_usage


def is_llm_call(attributes: dict[str, str], *, failed: bool = False) -> bool:
    """A model, an LLM marker, and not an agent/workflow/tool span (those may carry summed usage).

    A failed call may name no model at all (OpenInference's span of a call the provider
    refused): with `failed`, the marker alone makes it one, so it still gets its row."""
    if not (failed or first_value(attributes, REQUEST_MODEL_KEYS) or first_value(attributes, RESPONSE_MODEL_KEYS)):
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


_SERVICE_TIER_KEYS = frozenset(RESPONSE_SERVICE_TIER_KEYS + REQUEST_SERVICE_TIER_KEYS)


def _service_tier(attributes: dict[str, str], parameters: dict) -> str:
    # What the provider says it used wins over what was asked for. Most spans name no tier:
    # one set operation tells, rather than a lookup of every name.
    if attributes.keys().isdisjoint(_SERVICE_TIER_KEYS):
        tier = ""
    else:
        tier = first_value(attributes, RESPONSE_SERVICE_TIER_KEYS) or first_value(attributes, REQUEST_SERVICE_TIER_KEYS)
    if not tier and isinstance(parameters.get("service_tier"), str):
        tier = parameters["service_tier"]  # OpenInference: only in the request's parameters
    tier = tier.lower()
    return "" if tier in STANDARD_SERVICE_TIERS else tier


def _streaming(attributes: dict[str, str], parameters: dict) -> bool:
    for key in STREAM_FLAG_KEYS:
        flag = attributes.get(key)
        if flag is not None:
            return flag.strip().lower() in TRUE_FLAGS
    if attributes.get(LOGFIRE_TEMPLATE_KEY, "").startswith(LOGFIRE_STREAM_TEMPLATE):
        return True
    return parameters.get("stream") is True


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


def _amount(text: str | None) -> Decimal | None:
    """A cost as the span states it, parsed from its text (never through float arithmetic)."""
    if text is None:
        return None
    try:
        cost = Decimal(text)
    except InvalidOperation:
        return None
    return cost if cost.is_finite() and cost >= 0 else None


def _reported_cost(attributes: dict[str, str], usage: Usage) -> tuple[Decimal | None, str]:
    """Another tool's estimate of the cost, and the tool's name."""
    for key, source in REPORTED_COST_KEYS:
        text = attributes.get(key)
        cost = None if text is None else _amount(text)
        if cost is None:
            continue
        # OpenLIT writes 0 when the model is missing from its price list: not a price.
        if cost == 0 and (usage.input_tokens or usage.output_tokens):
            continue
        if source == "openlit" and attributes.get(SDK_NAME_KEY) != "openlit":
            source = key  # the same name from an emitter we do not know
        return cost, source
    return None, ""


def _embedded_usage(attributes: dict[str, str], answer_usage: dict) -> dict:
    """The provider's usage object, where the span carries it whole."""
    if answer_usage:
        return answer_usage
    raw = attributes.get(LOGFIRE_RAW_USAGE_KEY)
    if raw is not None:
        return json_object(raw) or {}
    literal = attributes.get(LITELLM_USAGE_OBJECT_KEY)
    if literal is not None:
        return python_literal(literal) or {}
    return {}


def _response_id(attributes: dict[str, str], answer_id: str) -> str:
    response_id = attributes.get(RESPONSE_ID_KEY, "")
    if response_id and response_id == attributes.get(LITELLM_CALL_ID_KEY):
        return ""  # LiteLLM's own id for a call that got no answer
    return response_id or answer_id


def _usage_source(attributes: dict[str, str], usage: Usage, provider: str) -> str:
    if not usage.reported:
        return "absent"
    # OpenLIT counts the text of a stream that reported no usage. Where the provider did
    # report it, OpenLIT also writes the cache counts (0 included); an estimate has none.
    if (attributes.get(SDK_NAME_KEY) == "openlit" and provider == "openai"
            and attributes.get("gen_ai.request.stream") == "true"
            and not any(key in attributes for key in CACHE_READ_TOKEN_KEYS)):
        return "estimated"
    return "provider"


def _error_type(attributes: dict[str, str], exception_type: str) -> str:
    error_type = attributes.get(ERROR_TYPE_KEY, "") or exception_type
    # The official openai-v2 instrumentation writes str() of the class.
    if error_type.startswith("<class '") and error_type.endswith("'>"):
        error_type = error_type[len("<class '"):-2]
    return error_type


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
    instrumentation: str = "",
    exception_type: str = "",
) -> LlmCall:
    """The call a span (already known to be one, see `is_llm_call`) describes.

    `exception_type` is the type of the exception event a failed span recorded, for
    conventions that put the error there only. Raises `InvalidSpan` when a token count
    is not a count.
    """
    provider = provider_name(attributes)
    parameters = json_object(attributes.get(OPENINFERENCE_INVOCATION_PARAMETERS_KEY)) or {}
    answer = json_object(attributes.get(OPENINFERENCE_OUTPUT_KEY))
    answer_id, answer_usage = openinference_answer(answer) if answer else ("", {})
    embedded = {} if has_breakdown(attributes) else _embedded_usage(attributes, answer_usage)
    usage = read_usage(
        attributes,
        input_excludes_cache=provider == "anthropic" and attributes.get(SDK_NAME_KEY) == "openlit",
        embedded=usage_breakdown(embedded) if embedded else None,
    )
    reported_cost, reported_cost_source = _reported_cost(attributes, usage)
    error_type = _error_type(attributes, exception_type)
    if error_type.rsplit(".", 1)[-1] in REFUSED_ERROR_TYPES:
        status = "Refused"
    response_id = _response_id(attributes, answer_id)
    request_model = first_value(attributes, REQUEST_MODEL_KEYS)
    if not request_model:
        # OpenInference names the model of a failed call only among the request's parameters.
        model = parameters.get("model") or parameters.get("model_name")
        request_model = model if isinstance(model, str) else ""
    call = LlmCall(
        timestamp_ns=timestamp_ns,
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        duration_ns=duration_ns,
        provider=provider,
        operation=_operation(attributes),
        request_model=request_model,
        response_model=first_value(attributes, RESPONSE_MODEL_KEYS),
        server_address=attributes.get(SERVER_ADDRESS_KEY, ""),
        service_tier=_service_tier(attributes, parameters),
        streaming=_streaming(attributes, parameters),
        response_id=response_id,
        instrumentation=instrumentation,
        answered=usage.reported or bool(response_id) or any(key in attributes for key in FINISH_REASON_KEYS),
        service_name=service_name,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        usage_reported=usage.reported,
        usage_source=_usage_source(attributes, usage, provider),
        billed_cost=_amount(attributes.get(BILLED_COST_KEY)) or (billed_cost(embedded) if embedded else None),
        reported_cost=reported_cost,
        reported_cost_source=reported_cost_source,
        time_to_first_chunk=_time_to_first_chunk(attributes),
        status=status,
        error_type=error_type,
    )
    attribute_call(call, attributes, defaults)
    read_savings(call, attributes)
    return call
