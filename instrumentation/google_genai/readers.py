"""Read what the Gemini API / Vertex AI answered into a `GenAICall`, from the JSON wire format.

Usage (`usageMetadata`) in the conventions' semantics:
- input = `promptTokenCount` (which includes `cachedContentTokenCount`) +
  `toolUsePromptTokenCount` (tool results fed back to the model, billed as input and
  counted apart by Google);
- output = `candidatesTokenCount` + `thoughtsTokenCount` (thinking is billed as output
  and counted apart by Google); reasoning = `thoughtsTokenCount`;
- cache read = `cachedContentTokenCount`.
The API leaves zero counts out of its JSON, so once `usageMetadata` is there an absent
count is 0. Vertex AI's `predict` embeddings report tokens per instance
(`predictions[].embeddings.statistics.token_count`), summed here.
"""
from __future__ import annotations

import json
from typing import Any

from .._genai import GenAICall, Usage, report_internal_error
from .._genai import attributes as attr

REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
REQUEST_SERVICE_TIER = "gcp.gen_ai.request.service_tier"
RESPONSE_SERVICE_TIER = "gcp.gen_ai.response.service_tier"

# generationConfig field -> span attribute.
_GENERATION_FIELDS = (
    ("maxOutputTokens", attr.REQUEST_MAX_TOKENS),
    ("temperature", attr.REQUEST_TEMPERATURE),
    ("topP", attr.REQUEST_TOP_P),
    ("topK", REQUEST_TOP_K),
    ("seed", attr.REQUEST_SEED),
    ("presencePenalty", attr.REQUEST_PRESENCE_PENALTY),
    ("frequencyPenalty", attr.REQUEST_FREQUENCY_PENALTY),
)


def add_request_attributes(attributes: dict, body: dict) -> None:
    config = body.get("generationConfig")
    if isinstance(config, dict):
        for field, name in _GENERATION_FIELDS:
            value = config.get(field)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                attributes[name] = value
        candidates = config.get("candidateCount")
        if isinstance(candidates, int) and candidates != 1:
            attributes[attr.REQUEST_CHOICE_COUNT] = candidates
        stop = config.get("stopSequences")
        if stop:
            attributes[REQUEST_STOP_SEQUENCES] = [str(s) for s in stop]
    tier = body.get("serviceTier")
    if isinstance(tier, str) and tier:
        attributes[REQUEST_SERVICE_TIER] = tier.lower()


def usage_from(metadata: dict) -> Usage:
    get = metadata.get
    thoughts = get("thoughtsTokenCount") or 0
    return Usage(
        input_tokens=(get("promptTokenCount") or 0) + (get("toolUsePromptTokenCount") or 0),
        output_tokens=(get("candidatesTokenCount") or 0) + thoughts,
        cache_read_tokens=get("cachedContentTokenCount") or 0,
        reasoning_tokens=thoughts,
    )


def read_body(call: GenAICall, body: Any) -> None:
    """A whole response's JSON text (or an already decoded dict)."""
    if not body:
        return
    data = json.loads(body) if isinstance(body, (str, bytes)) else body
    if isinstance(data, dict):
        read_response(call, data)


def read_response(call: GenAICall, data: dict) -> None:
    """A `GenerateContentResponse`, an embeddings response, or one chunk of a stream."""
    response_id, model = data.get("responseId"), data.get("modelVersion")
    if response_id:
        call.response_id = response_id
    if model:
        call.response_model = model
    candidates = data.get("candidates")
    if candidates:
        if len(candidates) == 1:  # the usual case (and every chunk of a stream): no generator
            reason = candidates[0].get("finishReason")
            reasons = (str(reason).lower(),) if reason else None
        else:
            reasons = tuple(str(c["finishReason"]).lower() for c in candidates if c.get("finishReason"))
        if reasons:
            call.finish_reasons = reasons
    metadata = data.get("usageMetadata")
    if isinstance(metadata, dict):
        call.usage = usage_from(metadata)
        tier = metadata.get("serviceTier")
        if isinstance(tier, str):
            call.set_attribute(RESPONSE_SERVICE_TIER, tier.lower())
    elif data.get("predictions"):
        counts = [((p.get("embeddings") or {}).get("statistics") or {}).get("token_count")
                  for p in data["predictions"]]
        if counts and all(isinstance(n, (int, float)) for n in counts):
            call.usage = Usage(input_tokens=int(sum(counts)))
    if candidates and call.capture_content:
        call.capture_output([_output_message(c) for c in candidates])


class StreamReader:
    """`on_chunk` for a streamed `generateContent`: each chunk is a `SdkHttpResponse`
    whose body is one JSON response. Usage is cumulative: the latest chunk's wins.

    Every field the call gets is the latest chunk's that has it, and the SDK parses each
    body itself: so unless the text is captured or `read_each` is asked for, the bodies
    are only kept, and read when the call ends (`call.before_end`), from the last back,
    each for what no later one had. Usually the last one has it all. `read_each` reads
    every chunk as it comes: the response cache keeps an answer as soon as its last chunk
    is read, with what the call has read of it by then."""

    __slots__ = ("texts", "bodies")

    def __init__(self, capture_content: bool, read_each: bool = False) -> None:
        self.texts: dict[int, list[str]] | None = {} if capture_content else None
        self.bodies: list | None = None if capture_content or read_each else []

    def __call__(self, call: GenAICall, chunk: Any) -> bool:
        body = getattr(chunk, "body", None)
        if not body:
            return False
        if self.bodies is not None:
            if not self.bodies:
                call.before_end = self.read_kept
            self.bodies.append(body)
            return False
        data = json.loads(body)
        if not isinstance(data, dict):
            return False
        candidates = data.get("candidates")
        texts = self.texts
        if texts is not None and candidates:
            for index, candidate in enumerate(candidates):
                for part in (candidate.get("content") or {}).get("parts") or ():
                    if isinstance(part.get("text"), str) and not part.get("thought"):
                        texts.setdefault(candidate.get("index", index), []).append(part["text"])
            data = {**data, "candidates": [_without_content(c) for c in candidates]}
        read_response(call, data)
        if texts is not None and call.finish_reasons:
            call.capture_output([_text_message("".join(texts[i]), None) for i in sorted(texts)])
        return False

    def read_kept(self, call: GenAICall) -> None:
        """What `read_response` on each kept body in turn would have set, latest first."""
        wanted = dict(_CHUNK_FIELDS)  # the fields no later body had
        bodies, self.bodies = self.bodies, []
        for body in reversed(bodies):
            if not any(key in body for key in wanted.values()):
                continue  # names none of what is still wanted
            try:
                data = json.loads(body)
                if isinstance(data, dict):
                    _read_latest(call, data, wanted)
            except Exception:
                report_internal_error("reading a stream chunk")
            if not wanted:
                return


# What a chunk can set -> its JSON key, as a quoted string to look for in the body.
_CHUNK_FIELDS = {"id": '"responseId"', "model": '"modelVersion"', "reasons": '"finishReason"',
                 "usage": '"usageMetadata"', "tier": '"serviceTier"'}


def _read_latest(call: GenAICall, data: dict, wanted: dict) -> None:
    """`read_response` of one chunk for the fields in `wanted` only, each found one removed."""
    if "id" in wanted and data.get("responseId"):
        call.response_id = data["responseId"]
        del wanted["id"]
    if "model" in wanted and data.get("modelVersion"):
        call.response_model = data["modelVersion"]
        del wanted["model"]
    candidates = data.get("candidates")
    if "reasons" in wanted and candidates:
        reasons = tuple(str(c["finishReason"]).lower() for c in candidates if c.get("finishReason"))
        if reasons:
            call.finish_reasons = reasons
            del wanted["reasons"]
    metadata = data.get("usageMetadata")
    if isinstance(metadata, dict):
        if "usage" in wanted:
            call.usage = usage_from(metadata)
            del wanted["usage"]
        tier = metadata.get("serviceTier")
        if "tier" in wanted and isinstance(tier, str):
            call.set_attribute(RESPONSE_SERVICE_TIER, tier.lower())
            del wanted["tier"]


def _without_content(candidate: dict) -> dict:
    return {k: v for k, v in candidate.items() if k != "content"}


def _output_message(candidate: dict) -> dict:
    content = candidate.get("content") or {}
    message = {"role": "assistant", "parts": [_part(p) for p in content.get("parts") or ()]}
    if candidate.get("finishReason"):
        message["finish_reason"] = str(candidate["finishReason"]).lower()
    return message


def _text_message(text: str, finish_reason: str | None) -> dict:
    message: dict = {"role": "assistant", "parts": [{"type": "text", "content": text}]}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return message


def input_messages(body: dict) -> tuple[list, Any]:
    """The prompt of a request body as (messages, system instructions); opt-in capture only."""
    messages = [
        {"role": c.get("role") or "user", "parts": [_part(p) for p in c.get("parts") or ()]}
        if isinstance(c, dict) else c
        for c in body.get("contents") or ()
    ]
    system = body.get("systemInstruction")
    if isinstance(system, dict):
        system = [_part(p) for p in system.get("parts") or ()]
    return messages, system


def _part(part: Any) -> Any:
    """One content part in the conventions' message-part shape; other parts as they are."""
    if not isinstance(part, dict):
        return part
    if "text" in part:
        return {"type": "reasoning" if part.get("thought") else "text", "content": part["text"]}
    if "functionCall" in part:
        call = part["functionCall"]
        return {"type": "tool_call", "id": call.get("id"), "name": call.get("name"), "arguments": call.get("args")}
    if "functionResponse" in part:
        response = part["functionResponse"]
        return {"type": "tool_call_response", "id": response.get("id"), "response": response.get("response")}
    return part
