"""The routing rules engine: which model a call goes to, and where it goes when that fails.

Three kinds of rules, each a list where the first match wins:

- `routes`: rewrite the model of matching calls (by app/feature/tag/team/..., request
  size and complexity signals);
- `budget`: the model a call degrades to when a hard budget says so (the budget's own
  `fallback_model` when no rule matches);
- `fallbacks`: on a provider error (429, 5xx, connection failures) retry on other models,
  or on another provider's endpoint that speaks the same API.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from .facts import RequestFacts

LABELS = ("app", "team", "feature", "tenant", "user", "environment", "provider", "model")


@dataclass(frozen=True)
class Condition:
    """Everything given must hold. Labels are globs (`gpt-4o*`); sizes are characters."""

    labels: tuple[tuple[str, str], ...] = ()  # (app|team|...|tag.<name>, glob)
    min_input_chars: int | None = None
    max_input_chars: int | None = None
    min_turns: int | None = None
    max_turns: int | None = None
    has_tools: bool | None = None
    has_images: bool | None = None
    contains_code: bool | None = None
    complexity: str | None = None  # low | high
    any_keywords: tuple[str, ...] = ()

    def holds(self, facts: RequestFacts) -> bool:
        for name, pattern in self.labels:
            value = facts.labels.get(name, "")
            if value != pattern and not fnmatch.fnmatchcase(value, pattern):
                return False
        if self.min_input_chars is not None and facts.input_chars < self.min_input_chars:
            return False
        if self.max_input_chars is not None and facts.input_chars > self.max_input_chars:
            return False
        if self.min_turns is not None and facts.turns < self.min_turns:
            return False
        if self.max_turns is not None and facts.turns > self.max_turns:
            return False
        for name in ("has_tools", "has_images", "contains_code"):
            wanted = getattr(self, name)
            if wanted is not None and getattr(facts, name) != wanted:
                return False
        if self.complexity is not None and facts.complexity != self.complexity:
            return False
        if self.any_keywords:
            text = facts.last_user_text.lower()
            if not any(word in text for word in self.any_keywords):
                return False
        return True


@dataclass(frozen=True)
class Route:
    name: str
    when: Condition
    model: str | None  # None in a budget rule: the budget's own fallback model
    line: int = 0


@dataclass(frozen=True)
class Target:
    """Where a fallback goes: another model, optionally on another endpoint of the same API."""

    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    provider: str | None = None


@dataclass(frozen=True)
class Fallback:
    name: str
    when: Condition
    on: frozenset[str]  # "429", "5xx", "500", ..., "connection"
    to: tuple[Target, ...]
    line: int = 0

    def applies_to(self, error: BaseException) -> bool:
        status = status_of(error)
        if status is not None:
            return str(status) in self.on or (status >= 500 and "5xx" in self.on)
        name = type(error).__name__  # APIConnectionError, httpx's ConnectError, ...Timeout
        return "connection" in self.on and ("Connect" in name or "Timeout" in name)


@dataclass(frozen=True)
class Decision:
    model: str
    kind: str  # rule | budget | fallback
    reason: str


@dataclass
class Router:
    routes: list[Route] = field(default_factory=list)
    budget: list[Route] = field(default_factory=list)
    fallbacks: list[Fallback] = field(default_factory=list)
    source: str = ""  # the file the rules came from

    def route(self, facts: RequestFacts) -> Decision | None:
        """The model a call should go to, when a route rule rewrites it."""
        for rule in self.routes:
            if rule.when.holds(facts):
                if rule.model == facts.labels.get("model"):
                    return None
                return Decision(rule.model, "rule", f"route {rule.name}")
        return None

    def on_budget(self, facts: RequestFacts, budget_model: str) -> Decision:
        """The model a call degrades to when a budget degrades it to `budget_model`."""
        for rule in self.budget:
            if rule.when.holds(facts):
                return Decision(rule.model or budget_model, "budget", f"budget rule {rule.name}")
        return Decision(budget_model, "budget", "budget fallback_model")

    def fallback_for(self, facts: RequestFacts, error: BaseException) -> tuple[Fallback, tuple[Target, ...]] | None:
        for rule in self.fallbacks:
            if rule.when.holds(facts) and rule.applies_to(error):
                return rule, rule.to
        return None


def status_of(error: BaseException) -> int | None:
    """The HTTP status of a provider's error: `status_code` (openai, anthropic) or `code`
    (Google Gen AI's `APIError`)."""
    for name in ("status_code", "code"):
        status: Any = getattr(error, name, None)
        if isinstance(status, int) and not isinstance(status, bool) and 100 <= status < 600:
            return status
    return None


def error_label(error: BaseException) -> str:
    status = status_of(error)
    return str(status) if status is not None else type(error).__name__
