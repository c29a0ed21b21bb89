"""Typed reading of a YAML document, with errors that point at the file, line and key.

The document is composed into nodes (not constructed into Python objects) so that
every value keeps its position and its original text: numbers become Decimal
straight from the text as written, never through a float.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import NoReturn

import yaml

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class PriceBookError(ValueError):
    """A price book that cannot be used; the message names the file, line and key."""


class _ComposeOnlyLoader(yaml.SafeLoader):
    """The safe loader, used only to compose: scalars are converted by YamlReader from their text."""


def _type_name(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    kind = {_INT: "a number", _FLOAT: "a number", _NULL: "nothing (null)", _TIMESTAMP: "a date"}.get(node.tag)
    if kind is None and node.tag == "tag:yaml.org,2002:bool":
        kind = f"the boolean {node.value!r}"
    return kind or f"the text {node.value!r}"


class YamlReader:
    """Reads one document; each accessor checks a node's type and raises PriceBookError."""

    def __init__(self, text: str, source_name: str):
        self.source_name = source_name
        try:
            self.root = yaml.compose(text, Loader=_ComposeOnlyLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = f":{mark.line + 1}" if mark else ""
            problem = exc.problem or exc.context or "invalid YAML"
            raise PriceBookError(f"{source_name}{line}: YAML syntax error: {problem}") from None
        except yaml.YAMLError as exc:
            raise PriceBookError(f"{source_name}: YAML syntax error: {exc}") from None

    def fail(self, node: yaml.Node | None, path: str, message: str) -> NoReturn:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        where = f" {path}:" if path else ""
        raise PriceBookError(f"{self.source_name}{line}:{where} {message}")

    @staticmethod
    def line(node: yaml.Node) -> int:
        return node.start_mark.line + 1

    def mapping(self, node: yaml.Node, path: str, *, allowed: tuple[str, ...],
                required: tuple[str, ...] = ()) -> dict[str, yaml.Node]:
        """A mapping's values by key; unknown, duplicate and missing keys are errors."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, path, f"expected a mapping, got {_type_name(node)}")
        values: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail(key_node, path, "keys must be plain words")
            key = key_node.value
            if key not in allowed:
                self.fail(key_node, path, f"unknown key {key!r} (expected one of: {', '.join(allowed)})")
            if key in values:
                self.fail(key_node, path, f"key {key!r} appears twice")
            values[key] = value_node
        for key in required:
            if key not in values:
                self.fail(node, path, f"missing required key {key!r}")
        return values

    def sequence(self, node: yaml.Node, path: str) -> list[yaml.Node]:
        if _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, path, f"expected a list, got {_type_name(node)}")
        return list(node.value)

    def text(self, node: yaml.Node, path: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or _is_null(node) or node.tag not in (_STR, _INT, _FLOAT):
            self.fail(node, path, f"expected text, got {_type_name(node)}")
        if not node.value.strip():
            self.fail(node, path, "must not be empty")
        return node.value

    def decimal(self, node: yaml.Node, path: str, *, minimum: Decimal = Decimal(0),
                above_minimum: bool = False, maximum: Decimal | None = None) -> Decimal:
        """A number as an exact Decimal, built from the scalar's own text."""
        number = self._number_or_none(node)
        if number is None:
            if isinstance(node, yaml.ScalarNode) and node.tag == _FLOAT:  # .inf, .nan
                self.fail(node, path, f"expected a finite number, got {node.value}")
            self.fail(node, path, f"expected a number, got {_type_name(node)}")
        if number < minimum or (above_minimum and number == minimum):
            relation = "greater than" if above_minimum else "at least"
            self.fail(node, path, f"must be {relation} {minimum}, got {node.value}")
        if maximum is not None and number > maximum:
            self.fail(node, path, f"must be at most {maximum}, got {node.value}")
        return number

    def integer(self, node: yaml.Node, path: str, *, minimum: int = 0) -> int:
        number = self._number_or_none(node)
        if number is None:
            self.fail(node, path, f"expected a whole number, got {_type_name(node)}")
        if number != number.to_integral_value():
            self.fail(node, path, f"expected a whole number, got {node.value}")
        if number < minimum:
            self.fail(node, path, f"must be at least {minimum}, got {node.value}")
        return int(number)

    def moment(self, node: yaml.Node, path: str) -> datetime:
        """A date (meaning 00:00 UTC) or a date-time with a UTC offset, as an aware datetime."""
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (_TIMESTAMP, _STR):
            self.fail(node, path, f"expected a date like 2025-01-31, got {_type_name(node)}")
        value = node.value.strip()
        try:
            if len(value) == 10:
                return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.fail(node, path, f"bad date {value!r} (expected YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SSZ)")
        if moment.tzinfo is None:
            self.fail(node, path, f"date-time {value!r} needs a UTC offset, e.g. {value}Z")
        return moment.astimezone(UTC)

    @staticmethod
    def _number_or_none(node: yaml.Node) -> Decimal | None:
        # Text that reads as a number counts too: YAML 1.1 reads 1e-6 as text, and some
        # people quote money ("0.15") precisely to keep it away from floats.
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (_INT, _FLOAT, _STR):
            return None
        try:
            number = Decimal(node.value.replace("_", ""))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL
