"""What makes two requests the same question, and which answers may be kept.

The key is a SHA-256 over canonical JSON of: the partition (app and tenant by default,
optionally the user), the provider, the endpoint, and the whole request body that shapes
the answer (model, system prompt, messages, tools, tool choice, response format,
sampling parameters, `stream`). Fields that do not change the answer (`user`,
`metadata`, `store`, `stream_options`, prompt-cache hints, the service tier, Vertex AI's
billing `labels`) are left out. The partition is part of every key, so no answer can
cross tenants.

Never cached: `n` (or candidate count) above 1, sampling with a temperature above 0
(including the providers' default temperature of 1 when none is given) unless the call
opts in, and answers that are errors, refusals or cut-off streams. The Gemini API's
sampling fields sit in `generationConfig`; its answers are whole when every candidate
finished with STOP or MAX_TOKENS (SAFETY, RECITATION, a blocked prompt, ... are refusals).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping

# Body fields that do not change the answer.
IGNORED_FIELDS = frozenset({
    "user", "metadata", "store", "stream_options", "prompt_cache_key", "safety_identifier", "service_tier",
    "llmledger_cache", "serviceTier", "labels",
})
# Endpoints whose answer does not depend on sampling.
DETERMINISTIC_ENDPOINTS = frozenset({"/embeddings", ":embedContent", ":batchEmbedContents", ":predict"})
# Gemini finish reasons of a whole answer; the others are refusals or failures.
GEMINI_WHOLE = frozenset({"STOP", "MAX_TOKENS"})
PARTITION_FIELDS = {"app": "llmledger.app", "tenant": "llmledger.tenant", "user": "user.id"}
DEFAULT_PARTITION = ("app", "tenant")


def partition_of(attributes: Mapping[str, Any], resource: Mapping[str, Any] | None,
                 fields: Iterable[str] = DEFAULT_PARTITION) -> tuple[tuple[str, str], ...]:
    """The hard partition of a call: its app (the resource's service name by default), tenant, user..."""
    values = []
    for field in fields:
        value = attributes.get(PARTITION_FIELDS[field])
        if not value and field == "app" and resource is not None:
            value = resource.get("service.name")
        values.append((field, str(value or "")))
    return tuple(values)


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def request_key(partition: tuple, provider: str, endpoint: str, body: Mapping[str, Any]) -> str:
    shaping = {k: v for k, v in body.items() if k not in IGNORED_FIELDS}
    digest = hashlib.sha256(canonical([partition, provider, endpoint, shaping]))
    return digest.hexdigest()


def why_not_cacheable(endpoint: str, body: Mapping[str, Any], any_temperature: bool) -> str | None:
    """None when the request may be answered from the cache, else the reason why not."""
    config = body.get("generationConfig")
    sampling = config if isinstance(config, dict) else body  # Gemini's, or the body itself
    for field in ("n", "candidate_count", "candidateCount"):
        count = sampling.get(field)
        if isinstance(count, int) and count > 1:
            return f"{field} > 1 asks for several different answers"
    if endpoint in DETERMINISTIC_ENDPOINTS or any_temperature:
        return None
    temperature = sampling.get("temperature")
    if temperature is None:
        return "no temperature given: the provider samples at its default (above 0)"
    if not isinstance(temperature, (int, float)) or temperature > 0:
        return "temperature above 0 samples a different answer each time"
    return None


def is_refusal(payload: Mapping[str, Any]) -> bool:
    """A provider's refusal or filtered answer (OpenAI chat and Responses, Anthropic, Gemini)."""
    if payload.get("stop_reason") == "refusal" or _gemini_refused(payload):
        return True
    for choice in payload.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        if choice.get("finish_reason") == "content_filter":
            return True
        message = choice.get("message") or {}
        if isinstance(message, dict) and message.get("refusal"):
            return True
    for item in payload.get("output") or ():
        for part in (item.get("content") or ()) if isinstance(item, dict) else ():
            if isinstance(part, dict) and part.get("type") == "refusal":
                return True
    return False


def is_complete(payload: Mapping[str, Any]) -> bool:
    """A whole answer: not an error, not incomplete (Responses API status), not a refusal."""
    if payload.get("error") or payload.get("status") in ("incomplete", "failed", "cancelled", "in_progress"):
        return False
    return not is_refusal(payload)


def stream_finished(event: Mapping[str, Any], wants_usage_chunk: bool) -> bool:
    """True for the last event of a whole streamed answer (whose events may then be kept)."""
    kind = event.get("type")
    if kind in ("message_stop", "response.completed"):
        return True
    candidates = event.get("candidates")  # Gemini: the last chunk has the finish reason
    if isinstance(candidates, list):
        return any(isinstance(c, dict) and c.get("finishReason") for c in candidates)
    choices = event.get("choices")
    if choices is None:
        return False
    if wants_usage_chunk:  # the usage-only chunk comes after the finish reason
        return not choices and event.get("usage") is not None
    return any(isinstance(c, dict) and c.get("finish_reason") for c in choices)


def stream_refused(event: Mapping[str, Any]) -> bool:
    if _gemini_refused(event):
        return True
    if event.get("type") == "message_delta":
        return (event.get("delta") or {}).get("stop_reason") == "refusal"
    if event.get("type") == "response.refusal.delta":
        return True
    for choice in event.get("choices") or ():
        if isinstance(choice, dict):
            delta = choice.get("delta") or {}
            if choice.get("finish_reason") == "content_filter" or (isinstance(delta, dict) and delta.get("refusal")):
                return True
    return False


def _gemini_refused(payload: Mapping[str, Any]) -> bool:
    """A Gemini answer (or chunk) that was blocked or cut off for another reason than its length."""
    feedback = payload.get("promptFeedback")
    if isinstance(feedback, dict) and feedback.get("blockReason"):
        return True
    for candidate in payload.get("candidates") or ():
        reason = candidate.get("finishReason") if isinstance(candidate, dict) else None
        if reason and reason not in GEMINI_WHOLE:
            return True
    return False
