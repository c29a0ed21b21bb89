"""Usage, ids and parameters that some conventions carry inside one attribute as a document.

- OpenInference records the request's parameters (`llm.invocation_parameters`, JSON) and
  the provider's answer (`output.value`, JSON): model, service tier, stream flag, the
  response id and the provider's usage object.
- logfire records the provider's usage object as JSON in `gen_ai.usage.raw`.
- LiteLLM records its usage object in `metadata.usage_object` as a Python literal (its
  repr, with single quotes and None), not as JSON.

Documents are parsed only when a span needs something from them, and only up to a size:
an attribute can hold a whole conversation.
"""
from __future__ import annotations

import ast
import json
from decimal import Decimal
from typing import Any

from .usage import MAX_TOKENS_PER_CALL

# Enough for any usage object or parameter set; a larger document is message content.
MAX_DOCUMENT_CHARS = 1 << 20
MAX_LITERAL_CHARS = 64 << 10


def json_object(text: str | None) -> dict | None:
    """`text` as a JSON object (numbers with a fraction as Decimal, never float), or None."""
    if not text or len(text) > MAX_DOCUMENT_CHARS or not text.lstrip().startswith("{"):
        return None
    try:
        decoded = json.loads(text, parse_float=Decimal)
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


def python_literal(text: str | None) -> dict | None:
    """`text` as a Python dict literal (LiteLLM's repr of its usage object), or None.
    `ast.literal_eval` evaluates literals only, never code."""
    if not text or len(text) > MAX_LITERAL_CHARS or not text.startswith("{"):
        return None
    try:
        decoded = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict) else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKENS_PER_CALL:
        return value
    return None


def usage_breakdown(usage: dict) -> dict[str, int]:
    """The cache and reasoning counts in a provider's usage object, by our names
    ("cache_read", "cache_write", "reasoning"); only the ones it states.

    Reads OpenAI chat (`prompt_tokens_details` / `completion_tokens_details`), OpenAI
    Responses (`input_tokens_details` / `output_tokens_details`) and Anthropic
    (`cache_read_input_tokens` / `cache_creation_input_tokens`) shapes."""
    prompt = _dict(usage.get("prompt_tokens_details")) or _dict(usage.get("input_tokens_details"))
    completion = _dict(usage.get("completion_tokens_details")) or _dict(usage.get("output_tokens_details"))
    found = {
        "cache_read": _count(prompt.get("cached_tokens")),
        "cache_write": _count(prompt.get("cache_write_tokens")),
        "reasoning": _count(completion.get("reasoning_tokens")),
    }
    if found["cache_read"] is None:
        found["cache_read"] = _count(usage.get("cache_read_input_tokens"))
    if found["cache_write"] is None:
        found["cache_write"] = _count(prompt.get("cache_creation_tokens")) or _count(
            usage.get("cache_creation_input_tokens"))
    return {name: count for name, count in found.items() if count is not None}


def billed_cost(usage: dict) -> Decimal | None:
    """The cost a provider itself reports in its usage object (OpenRouter's `usage.cost`)."""
    cost = usage.get("cost")
    if isinstance(cost, bool) or not isinstance(cost, (int, float, Decimal, str)):
        return None
    try:
        # A float came from a Python literal: its repr is the text the tool wrote.
        amount = Decimal(repr(cost)) if isinstance(cost, float) else Decimal(cost)
    except ArithmeticError:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def openinference_answer(output: dict) -> tuple[str, dict]:
    """(response id, usage object) from OpenInference's `output.value`: the provider's
    answer itself (the openai instrumentor) or LangChain's LLMResult around it."""
    response_id = output.get("id")
    usage = _dict(output.get("usage"))
    if response_id is None and "generations" in output:
        try:
            metadata = output["generations"][0][0]["message"]["kwargs"]["response_metadata"]
        except (KeyError, IndexError, TypeError):
            metadata = {}
        metadata = _dict(metadata)
        response_id = metadata.get("id")
        usage = usage or _dict(metadata.get("token_usage"))
    return (response_id if isinstance(response_id, str) else ""), usage
