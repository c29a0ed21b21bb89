"""The dimensions costs can be broken down and filtered by.

Dimension names come from a fixed list and map to column names written here; user values
(a tag's name, a filter's value) only ever reach SQL as query parameters.
"""
from __future__ import annotations

from dataclasses import dataclass

# Dimension name -> column, the same in v_llm_calls and (where present) v_cost_hourly.
COLUMNS = {
    "app": "app",
    "environment": "environment",
    "provider": "provider",
    "model": "model",
    "team": "team",
    "feature": "feature",
    "tenant": "tenant",
    "user": "user_id",
}
# The dimensions the hourly rollup keeps; the others need the per-call rows.
IN_HOURLY_ROLLUP = frozenset({"app", "environment", "provider", "model", "team", "feature", "tenant"})
# The daily rollup by user (migration 026) keeps those and the user.
IN_DAILY_USER_ROLLUP = IN_HOURLY_ROLLUP | {"user"}
TAG_PREFIX = "tag:"
NAMES = tuple(COLUMNS) + (TAG_PREFIX + "<name>",)


@dataclass(frozen=True)
class Dimension:
    name: str  # as asked for: "app", "tag:customer"
    column: str | None  # None for a tag
    tag: str | None = None

    @property
    def in_hourly_rollup(self) -> bool:
        return self.name in IN_HOURLY_ROLLUP

    def expression(self, parameter: str) -> tuple[str, dict]:
        """SQL for the dimension's value and the parameters it needs; a tag's name is
        bound as `parameter`."""
        if self.tag is None:
            return self.column, {}
        return f"tags[{{{parameter}:String}}]", {parameter: self.tag}


def parse_dimension(name: str) -> Dimension:
    if not isinstance(name, str):
        raise ValueError(f"a dimension is a name, got {name!r}")
    if name.startswith(TAG_PREFIX):
        tag = name[len(TAG_PREFIX):]
        if not tag:
            raise ValueError("tag dimension without a tag name: use tag:<name>, e.g. tag:customer_tier")
        return Dimension(name, None, tag)
    if name not in COLUMNS:
        raise ValueError(f"unknown dimension {name!r}: use one of {', '.join(NAMES)}")
    return Dimension(name, COLUMNS[name])


def filter_conditions(filters: dict | None) -> tuple[list[Dimension], list[str], dict]:
    """WHERE conditions for filters such as {"app": "chatbot", "model": ["gpt-4o", "gpt-4.1"],
    "tag:tier": "gold"}: the dimensions used, the conditions, and their parameters."""
    used, conditions, parameters = [], [], {}
    for index, (name, value) in enumerate((filters or {}).items()):
        dim = parse_dimension(name)
        expression, extra = dim.expression(f"filter_tag_{index}")
        parameters.update(extra)
        key = f"filter_{index}"
        if isinstance(value, str):
            conditions.append(f"{expression} = {{{key}:String}}")
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
            conditions.append(f"{expression} IN {{{key}:Array(String)}}")
            value = list(value)
        else:
            raise ValueError(f"filter {name}: expected a string or a non-empty list of strings, got {value!r}")
        parameters[key] = value
        used.append(dim)
    return used, conditions, parameters
