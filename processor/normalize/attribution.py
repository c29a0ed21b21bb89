"""Who caused an LLM call: span attributes first, the resource's as the fallback."""
from __future__ import annotations

from dataclasses import dataclass, field

from llmledger.processor.record import LlmCall

from .conventions import (
    APP_KEY,
    ENVIRONMENT_KEYS,
    FEATURE_KEY,
    SERVICE_NAME_KEY,
    SESSION_ID_KEY,
    TAG_PREFIX,
    TEAM_KEY,
    TENANT_KEY,
    USER_ID_KEYS,
    first_value,
)


@dataclass(frozen=True, slots=True)
class Attribution:
    """The attribution a resource gives every call it emits, unless a span says otherwise."""

    app: str = ""
    environment: str = ""
    user_id: str = ""
    session_id: str = ""
    team: str = ""
    feature: str = ""
    tenant: str = ""
    tags: dict[str, str] = field(default_factory=dict)


def _tags(attributes: dict[str, str]) -> dict[str, str]:
    # Most spans have no tags: one substring search over the joined keys rules that out
    # faster than testing every key.
    if TAG_PREFIX not in "\n".join(attributes):
        return {}
    start = len(TAG_PREFIX)
    return {key[start:]: value for key, value in attributes.items() if key.startswith(TAG_PREFIX)}


def resource_attribution(resource_attributes: dict[str, str]) -> Attribution:
    return Attribution(
        # The app defaults to the service that emitted the call.
        app=resource_attributes.get(APP_KEY) or resource_attributes.get(SERVICE_NAME_KEY, ""),
        environment=first_value(resource_attributes, ENVIRONMENT_KEYS),
        user_id=first_value(resource_attributes, USER_ID_KEYS),
        session_id=resource_attributes.get(SESSION_ID_KEY, ""),
        team=resource_attributes.get(TEAM_KEY, ""),
        feature=resource_attributes.get(FEATURE_KEY, ""),
        tenant=resource_attributes.get(TENANT_KEY, ""),
        tags=_tags(resource_attributes),
    )


def attribute_call(call: LlmCall, span_attributes: dict[str, str], defaults: Attribution) -> None:
    """Fill the call's attribution fields; an empty span value does not hide the resource's."""
    call.app = span_attributes.get(APP_KEY) or defaults.app
    call.environment = first_value(span_attributes, ENVIRONMENT_KEYS) or defaults.environment
    call.user_id = first_value(span_attributes, USER_ID_KEYS) or defaults.user_id
    call.session_id = span_attributes.get(SESSION_ID_KEY) or defaults.session_id
    call.team = span_attributes.get(TEAM_KEY) or defaults.team
    call.feature = span_attributes.get(FEATURE_KEY) or defaults.feature
    call.tenant = span_attributes.get(TENANT_KEY) or defaults.tenant
    # Each call gets its own dict: later stages may add to it.
    call.tags = {**defaults.tags, **_tags(span_attributes)}
