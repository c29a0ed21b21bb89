"""What routing rules look at: who makes a call, and simple signals of its size and difficulty.

Computed from the request body in the same way for every SDK whose body holds
`messages` (chat, Anthropic), `input` (Responses API), `contents` (Gemini) or `prompt`.
Sizes are counted in characters of text, not tokens: nothing is tokenized here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

# Attribution span attribute -> the name a rule matches on.
ATTRIBUTION = {
    "llmledger.app": "app", "llmledger.team": "team", "llmledger.feature": "feature",
    "llmledger.tenant": "tenant", "user.id": "user", "deployment.environment.name": "environment",
    "gen_ai.provider.name": "provider", "gen_ai.request.model": "model",
}
TAG_PREFIX = "llmledger.tag."
IMAGE_PARTS = frozenset({"image_url", "image", "input_image", "inline_data", "file"})
# Words that usually mean a question needs more than a small model.
HARD_WORDS = re.compile(r"\b(prove|proof|step by step|derive|analy[sz]e|debug|refactor|architecture|optimi[sz]e|"
                        r"trade-?offs?|reason through)\b", re.IGNORECASE)
LONG_INPUT_CHARS = 8000
MANY_TURNS = 6


@dataclass
class RequestFacts:
    labels: dict[str, str] = field(default_factory=dict)  # app, team, ..., model, tag.<name>
    input_chars: int = 0
    turns: int = 0
    has_tools: bool = False
    has_images: bool = False
    contains_code: bool = False
    last_user_text: str = ""

    @property
    def complexity(self) -> str:
        hard = (self.has_tools or self.contains_code or self.turns >= MANY_TURNS
                or self.input_chars >= LONG_INPUT_CHARS or HARD_WORDS.search(self.last_user_text) is not None)
        return "high" if hard else "low"


def facts_of(body: Mapping[str, Any], attributes: Mapping[str, Any],
             resource: Mapping[str, Any] | None = None) -> RequestFacts:
    facts = RequestFacts()
    for key, value in attributes.items():
        if key in ATTRIBUTION and isinstance(value, str):
            facts.labels[ATTRIBUTION[key]] = value
        elif key.startswith(TAG_PREFIX) and isinstance(value, str):
            facts.labels["tag." + key[len(TAG_PREFIX):]] = value
    if resource is not None:
        facts.labels.setdefault("app", str(resource.get("service.name") or ""))
        facts.labels.setdefault("environment", str(resource.get("deployment.environment.name") or ""))
    if body.get("model") and "model" not in facts.labels:
        facts.labels["model"] = str(body["model"])
    facts.has_tools = bool(body.get("tools") or body.get("functions"))
    texts: list[str] = []
    _collect(body.get("system"), texts, facts)
    _collect(body.get("instructions"), texts, facts)
    for name in ("messages", "input", "contents", "prompt"):
        given = body.get(name)
        if given is None:
            continue
        turns = given if isinstance(given, list) else [given]
        facts.turns += len(turns)
        for turn in turns:
            before = len(texts)
            _collect(turn, texts, facts)
            role = turn.get("role") if isinstance(turn, dict) else "user"
            if role == "user" and len(texts) > before:
                facts.last_user_text = "\n".join(texts[before:])
    facts.input_chars = sum(len(t) for t in texts)
    facts.contains_code = any("```" in t for t in texts)
    return facts


def _collect(value: Any, texts: list[str], facts: RequestFacts) -> None:
    if isinstance(value, str):
        texts.append(value)
    elif isinstance(value, list):
        for item in value:
            _collect(item, texts, facts)
    elif isinstance(value, dict):
        if value.get("type") in IMAGE_PARTS or "inline_data" in value:
            facts.has_images = True
        for key in ("content", "text", "parts"):
            if key in value:
                _collect(value[key], texts, facts)
