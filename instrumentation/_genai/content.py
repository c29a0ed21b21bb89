"""Opt-in message content: cut long texts and serialise to the JSON the span carries.

Only used when `Settings.capture_content` is on. `clip(value, limit)` walks
dicts, lists and tuples and cuts every string longer than `limit` characters
(marking the cut) except structural ones (`role`, `type`, …), so the result
stays valid JSON however long the prompt was.
"""
from __future__ import annotations

import json
from typing import Any

TRUNCATION_MARK = "…[truncated]"

# Keys whose string values describe the message's structure, not its content: never cut.
_STRUCTURE_KEYS = frozenset({"role", "type", "name", "id", "call_id", "finish_reason"})


def clip(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + TRUNCATION_MARK
    if isinstance(value, dict):
        return {str(k): v if k in _STRUCTURE_KEYS and isinstance(v, str) else clip(v, limit)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clip(v, limit) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    # SDK models and other objects: their text form, so nothing private slips
    # through a serialiser we do not control.
    return clip(_as_plain(value), limit)


def to_json(value: Any, limit: int) -> str:
    return json.dumps(clip(value, limit), ensure_ascii=False, separators=(",", ":"))


def _as_plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic models (both SDKs)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:
            pass
    return str(value)
