"""Reading a routing file (YAML). Every mistake is reported as `file:line: what is wrong`.

    version: 1
    routes:                               # first match wins
      - name: faq-on-mini
        when: {app: support-bot, feature: faq, model: "gpt-4o*", max_input_chars: 4000, complexity: low}
        model: gpt-4o-mini
      - name: long-context
        when: {min_input_chars: 200000}
        model: gemini-2.5-pro
    budget:                               # when a hard budget degrades a call
      - name: research
        when: {team: research}
        model: gpt-4.1-mini               # leave out: the budget's own fallback_model
    fallbacks:                            # on provider errors
      - name: gpt-4o-busy
        when: {model: gpt-4o}
        on: [429, 5xx, connection]
        to:
          - model: gpt-4o-mini
          - {model: gpt-4o, base_url: "https://backup.example/v1", api_key_env: BACKUP_KEY}

`when` conditions: app, team, feature, tenant, user, environment, provider, model,
tag.<name> (globs); min_input_chars, max_input_chars, min_turns, max_turns (characters
of text and messages); has_tools, has_images, contains_code (true/false); complexity
(low or high: high with tools, code, 6+ messages, 8000+ characters or words such as
"prove", "step by step", "debug"); any_keywords (a list).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .rules import LABELS, Condition, Fallback, Route, Router, Target

TOP_KEYS = ("version", "routes", "budget", "fallbacks")
ROUTE_KEYS = ("name", "when", "model")
FALLBACK_KEYS = ("name", "when", "on", "to")
TARGET_KEYS = ("model", "base_url", "api_key_env", "provider")
SIZE_KEYS = ("min_input_chars", "max_input_chars", "min_turns", "max_turns")
FLAG_KEYS = ("has_tools", "has_images", "contains_code")
CONDITION_KEYS = LABELS + SIZE_KEYS + FLAG_KEYS + ("complexity", "any_keywords", "tag.<name>")


class RoutingFileError(ValueError):
    """A routing file that cannot be used; the message names the file and line."""


def load_routing_file(path: str | Path) -> Router:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutingFileError(f"{path}: cannot read the routing file: {exc.strerror or exc}") from None
    return parse_routing(text, str(path))


def parse_routing(text: str, source: str = "routing.yaml") -> Router:
    try:
        import yaml
    except ImportError:
        raise RoutingFileError(f"{source}: reading a routing file needs PyYAML "
                               "(pip install 'llmledger-instrumentation[routing]')") from None

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise RoutingFileError(f"{source}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    reader = _Reader(source)
    if root is None:
        return Router(source=source)
    top = reader.mapping(root, "the file", TOP_KEYS)
    if "version" in top and reader.scalar(top["version"], "version") != 1:
        reader.fail(top["version"], "version", "only version 1 is known")
    router = Router(source=source)
    for index, node in enumerate(reader.sequence(top.get("routes"), "routes")):
        router.routes.append(reader.route(node, f"routes[{index}]", model_required=True))
    for index, node in enumerate(reader.sequence(top.get("budget"), "budget")):
        router.budget.append(reader.route(node, f"budget[{index}]", model_required=False))
    for index, node in enumerate(reader.sequence(top.get("fallbacks"), "fallbacks")):
        router.fallbacks.append(reader.fallback(node, f"fallbacks[{index}]"))
    return router


class _Reader:
    def __init__(self, source: str):
        self.source = source

    def fail(self, node, path: str, message: str):
        line = node.start_mark.line + 1 if node is not None else 0
        raise RoutingFileError(f"{self.source}:{line}: {path}: {message}")

    def mapping(self, node, path: str, allowed) -> dict:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            self.fail(node, path, "expected a mapping (key: value lines)")
        found = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key not in allowed and not (path.endswith("when") and key.startswith("tag.") and len(key) > 4):
                self.fail(key_node, path, f"unknown key {key!r} (use one of {', '.join(allowed)})")
            if key in found:
                self.fail(key_node, path, f"{key!r} is given twice")
            found[key] = value_node
        return found

    def sequence(self, node, path: str) -> list:
        import yaml

        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, path, "expected a list (lines starting with '-')")
        return list(node.value)

    def scalar(self, node, path: str) -> Any:
        import yaml

        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, path, "expected a single value")
        return yaml.safe_load(yaml.serialize(node))

    def text(self, node, path: str) -> str:
        value = self.scalar(node, path)
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or not str(value).strip():
            self.fail(node, path, "expected a non-empty name")
        return str(value).strip()

    def route(self, node, path: str, *, model_required: bool) -> Route:
        values = self.mapping(node, path, ROUTE_KEYS)
        if "name" not in values:
            self.fail(node, path, "every rule needs a name (it is recorded as the reason on the span)")
        if model_required and "model" not in values:
            self.fail(node, path, "a route needs the model to send matching calls to")
        model = self.text(values["model"], f"{path}.model") if "model" in values else None
        return Route(self.text(values["name"], f"{path}.name"), self.condition(values.get("when"), f"{path}.when"),
                     model, node.start_mark.line + 1)

    def fallback(self, node, path: str) -> Fallback:
        values = self.mapping(node, path, FALLBACK_KEYS)
        for key in ("name", "on", "to"):
            if key not in values:
                self.fail(node, path, f"a fallback needs {key!r}")
        on = set()
        for item in self.sequence(values["on"], f"{path}.on"):
            value = str(self.scalar(item, f"{path}.on")).strip().lower()
            if value not in ("5xx", "connection") and not (value.isdigit() and (value == "429" or value[0] == "5")):
                self.fail(item, f"{path}.on", f"{value!r}: use 429, 5xx, a 5xx status such as 503, or connection")
            on.add(value)
        targets = []
        for index, item in enumerate(self.sequence(values["to"], f"{path}.to")):
            where = f"{path}.to[{index}]"
            target = self.mapping(item, where, TARGET_KEYS)
            if "model" not in target:
                self.fail(item, where, "a fallback target needs a model")
            fields = {key: self.text(value, f"{where}.{key}") for key, value in target.items()}
            if "base_url" in fields and not fields["base_url"].startswith(("http://", "https://")):
                self.fail(target["base_url"], f"{where}.base_url", "must start with http:// or https://")
            targets.append(Target(**fields))
        if not targets:
            self.fail(values["to"], f"{path}.to", "give at least one target")
        return Fallback(self.text(values["name"], f"{path}.name"), self.condition(values.get("when"), f"{path}.when"),
                        frozenset(on), tuple(targets), node.start_mark.line + 1)

    def condition(self, node, path: str) -> Condition:
        if node is None:
            return Condition()
        values = self.mapping(node, path, CONDITION_KEYS)
        fields: dict[str, Any] = {}
        labels = []
        for key, value_node in values.items():
            where = f"{path}.{key}"
            if key in LABELS or key.startswith("tag."):
                labels.append((key, self.text(value_node, where)))
            elif key in SIZE_KEYS:
                value = self.scalar(value_node, where)
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    self.fail(value_node, where, "expected a whole number >= 0")
                fields[key] = value
            elif key in FLAG_KEYS:
                value = self.scalar(value_node, where)
                if not isinstance(value, bool):
                    self.fail(value_node, where, "expected true or false")
                fields[key] = value
            elif key == "complexity":
                value = self.scalar(value_node, where)
                if value not in ("low", "high"):
                    self.fail(value_node, where, "expected low or high")
                fields[key] = value
            else:  # any_keywords
                words = [str(self.scalar(item, where)).strip().lower() for item in self.sequence(value_node, where)]
                if not words or not all(words):
                    self.fail(value_node, where, "expected a list of words")
                fields[key] = tuple(words)
        for low, high in (("min_input_chars", "max_input_chars"), ("min_turns", "max_turns")):
            if low in fields and high in fields and fields[low] > fields[high]:
                self.fail(node, path, f"{low} is above {high}: no call could match")
        return Condition(labels=tuple(labels), **fields)
