"""Reading budgets: the budget file (YAML) and the same document as JSON from the API or CLI.

The short form of the issue is accepted as it is; each `<window>_limit` becomes a budget
of its own, with the id `<app>.<window>`:

    budgets:
      - app_id: "chatbot-production"
        daily_limit: 500.0
        monthly_limit: 10000.0
        alert_thresholds: [0.5, 0.8, 0.95]
        notification_channels:
          - type: slack
            webhook: "https://hooks.slack.com/services/xxx"

The full form names every part:

    budgets:
      - id: search-team-weekly
        scope: team              # app, team, user, model, provider, environment, feature,
        value: search            # tenant, tag:<name> (value = the tag's value), or all
        tenant: acme             # optional: count only this tenant's calls (default: every tenant's)
        window: weekly           # daily, weekly, monthly (in `timezone`), or rolling
        timezone: Europe/Berlin  # IANA name, default UTC; rolling windows take `duration: 24h`
        limit: 300
        thresholds: [0.5, 0.9, 1.0]
        hard: true               # the default: throttle at the limit; false only alerts
        fallback_model: gpt-4o-mini   # a hard budget may degrade to a cheaper model instead
    smtp: {host: mail.example.com, port: 587, username: alerts, password_env: SMTP_PASSWORD}
    anomaly_alerts: {notification_channels: [...]}

Mistakes are reported with the file, line and key, e.g.
`budgets.yaml:4: budgets[0].dialy_limit: unknown key (did you mean daily_limit? ...)`.
Amounts are read from the file's text, so `0.1` is exactly 0.1.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

import yaml

from ..notify import Channel, ChannelConfigError, SmtpSettings, parse_channel
from .model import CALENDAR_WINDOWS, SCOPES, TAG_SCOPE_PREFIX, WINDOWS, Budget, Window
from .windows import zone


class BudgetFileError(ValueError):
    """A budget definition is wrong; the message says where (file:line, key) and why."""


@dataclass(frozen=True)
class BudgetFile:
    budgets: tuple[Budget, ...]
    smtp: SmtpSettings | None = None  # the mail server for email channels, if the file names one
    anomaly_channels: tuple[Channel, ...] = ()  # where anomaly alerts go


TOP_KEYS = ("budgets", "smtp", "anomaly_alerts")
ENTRY_KEYS = ("id", "description", "scope", "value", "tenant", "app_id", "window", "timezone", "duration", "limit",
              "daily_limit", "weekly_limit", "monthly_limit", "thresholds", "alert_thresholds", "hard",
              "fallback_model", "notification_channels")
WINDOW_LIMIT_KEYS = {f"{kind}_limit": kind for kind in CALENDAR_WINDOWS}
DEFAULT_THRESHOLDS = (Decimal("0.8"), Decimal("1"))

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@=+-]{0,127}$")
_TAG_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_ROLLING_SECONDS = 31 * 86400
MAX_AMOUNT = Decimal(10) ** 26  # what Decimal(38, 12) holds


def load_budget_file(path: str | Path) -> BudgetFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BudgetFileError(f"cannot read budget file {path}: {exc.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise BudgetFileError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None:
        raise BudgetFileError(f"{path}: the file is empty; expected a `budgets:` list")
    return parse_budget_document(_located(root, str(path)), str(path))


def parse_budget_document(document: Any, source: str = "request") -> BudgetFile:
    """The file's content as data (from YAML or JSON). `source` prefixes error messages."""
    where = _Where(source, "", getattr(document, "line", None))
    if not isinstance(document, dict):
        where.fail("expected a mapping with a `budgets:` list")
    _reject_unknown(document, TOP_KEYS, where)
    if "budgets" not in document:
        where.fail("budgets: is required (a list of budgets)")
    budgets = parse_budget_entries(document["budgets"], source, where.key(document, "budgets"))
    smtp = None
    if "smtp" in document:
        smtp_where = where.key(document, "smtp")
        if not isinstance(document["smtp"], dict):
            smtp_where.fail("must be a mapping of SMTP settings")
        try:
            smtp = SmtpSettings.parse(document["smtp"])
        except ChannelConfigError as exc:
            smtp_where.nested(document["smtp"], exc.key).fail(exc.message)
    anomaly_channels: tuple[Channel, ...] = ()
    if "anomaly_alerts" in document:
        section, section_where = document["anomaly_alerts"], where.key(document, "anomaly_alerts")
        if not isinstance(section, dict):
            section_where.fail("must be a mapping with notification_channels")
        _reject_unknown(section, ("notification_channels",), section_where)
        anomaly_channels = _channels(section.get("notification_channels", []),
                                     section_where.key(section, "notification_channels"))
    return BudgetFile(tuple(budgets), smtp, anomaly_channels)


def parse_budget_entries(entries: Any, source: str = "request", where: _Where | None = None) -> list[Budget]:
    where = where or _Where(source, "budgets", getattr(entries, "line", None))
    if not isinstance(entries, list):
        where.fail("must be a list of budgets")
    budgets: list[Budget] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        entry_where = where.item(entries, index)
        for budget in _parse_entry(entry, entry_where):
            if budget.id in seen:
                entry_where.fail(f"budget id {budget.id!r} is used twice")
            seen.add(budget.id)
            budgets.append(budget)
    return budgets


# --- one entry ------------------------------------------------------------------------------


def _parse_entry(entry: Any, where: _Where) -> list[Budget]:
    if not isinstance(entry, dict):
        where.fail("a budget must be a mapping (scope, limit, window, ...)")
    _reject_unknown(entry, ENTRY_KEYS, where)
    scope, value = _scope(entry, where)
    tenant = _tenant(entry, scope, where)
    thresholds = _thresholds(entry, where)
    hard = _flag(entry, "hard", True, where)
    fallback_model = _optional_text(entry, "fallback_model", where)
    if fallback_model and not hard:
        where.key(entry, "fallback_model").fail("only a hard budget degrades to a fallback model; "
                                                "remove it or set hard: true")
    channels = _channels(entry.get("notification_channels", []), where.key(entry, "notification_channels"))
    description = _optional_text(entry, "description", where)
    timezone = _timezone(entry, where)
    given_id = _optional_text(entry, "id", where)
    if given_id:
        _check_id(given_id, where.key(entry, "id"))

    windowed = [key for key in WINDOW_LIMIT_KEYS if key in entry]
    if windowed and ("limit" in entry or "window" in entry or "duration" in entry):
        where.fail(f"give either {' / '.join(windowed)} or limit with window, not both")
    if windowed:
        limits = [(Window(WINDOW_LIMIT_KEYS[key], timezone), _amount(entry, key, where)) for key in windowed]
    elif "limit" in entry:
        limits = [(_window(entry, timezone, where), _amount(entry, "limit", where))]
    else:
        where.fail("no limit: give limit with window, or daily_limit / weekly_limit / monthly_limit")

    base = given_id or _derived_id(scope, value, tenant, where)
    budgets = []
    for window, limit in limits:
        budget_id = given_id if (given_id and not windowed) else f"{base}.{window.kind}"
        _check_id(budget_id, where)
        budgets.append(Budget(id=budget_id, scope=scope, value=value, window=window, limit=limit, tenant=tenant,
                              thresholds=thresholds, hard=hard, fallback_model=fallback_model,
                              channels=channels, description=description))
    return budgets


def _scope(entry: dict, where: _Where) -> tuple[str, str]:
    if "app_id" in entry:
        if "scope" in entry or "value" in entry:
            where.fail("give either app_id or scope with value, not both")
        return "app", _scope_value(entry, "app_id", where)
    if "scope" not in entry:
        where.fail("no scope: give app_id, or scope (app, team, user, model, provider, environment, "
                   "feature, tenant, tag:<name>, all) with value")
    scope = entry["scope"]
    scope_where = where.key(entry, "scope")
    if not isinstance(scope, str):
        scope_where.fail("must be a string")
    if scope.startswith(TAG_SCOPE_PREFIX):
        if not _TAG_NAME.match(scope[len(TAG_SCOPE_PREFIX):]):
            scope_where.fail("a tag scope is tag:<name>, the name of letters, digits, '_', '-' and '.'")
    elif scope not in SCOPES:
        scope_where.fail(f"{scope!r} is not a scope (expected one of: {', '.join(SCOPES)}, tag:<name>)")
    if scope == "all":
        if "value" in entry:
            where.key(entry, "value").fail("scope all takes no value")
        return scope, ""
    if "value" not in entry:
        where.fail(f"scope {scope} needs a value (which {scope} the budget is for)")
    return scope, _scope_value(entry, "value", where)


def _tenant(entry: dict, scope: str, where: _Where) -> str:
    if "tenant" not in entry:
        return ""
    if scope == "tenant":
        where.key(entry, "tenant").fail("a budget on scope tenant counts one tenant's calls already; "
                                        "remove tenant, or give the budget another scope")
    return _scope_value(entry, "tenant", where)


def _scope_value(entry: dict, key: str, where: _Where) -> str:
    value = entry[key]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # an unquoted numeric user id
    if not isinstance(value, str) or not value or value != value.strip() or not value.isprintable() \
            or len(value) > 256:
        where.key(entry, key).fail("must be a non-empty string of at most 256 printable characters, "
                                   "without leading or trailing spaces")
    return value


def _window(entry: dict, timezone: str, where: _Where) -> Window:
    if "window" not in entry:
        where.fail(f"limit needs a window ({', '.join(WINDOWS)})")
    kind = entry["window"]
    if kind not in WINDOWS:
        where.key(entry, "window").fail(f"must be one of: {', '.join(WINDOWS)}")
    if kind != "rolling":
        if "duration" in entry:
            where.key(entry, "duration").fail("only a rolling window has a duration")
        return Window(kind, timezone)
    if "timezone" in entry:
        where.key(entry, "timezone").fail("a rolling window has no time zone; remove it")
    if "duration" not in entry:
        where.fail("a rolling window needs a duration, e.g. duration: 24h")
    return Window("rolling", "UTC", _duration(entry, where))


def _duration(entry: dict, where: _Where) -> int:
    text = entry["duration"]
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    seconds = int(match.group(1)) * _DURATION_UNITS[match.group(2)] if match else 0
    if not 60 <= seconds <= MAX_ROLLING_SECONDS:
        where.key(entry, "duration").fail("must be minutes, hours, days or weeks such as 90m, 24h, 7d "
                                          "(from 1m to 31d)")
    return seconds


def _timezone(entry: dict, where: _Where) -> str:
    name = entry.get("timezone", "UTC")
    if not isinstance(name, str):
        where.key(entry, "timezone").fail("must be an IANA time zone name such as Europe/Berlin")
    try:
        zone(name)
    except ValueError as exc:
        where.key(entry, "timezone").fail(str(exc))
    return name


def _thresholds(entry: dict, where: _Where) -> tuple[Decimal, ...]:
    if "thresholds" in entry and "alert_thresholds" in entry:
        where.fail("give thresholds or alert_thresholds, not both")
    key = "alert_thresholds" if "alert_thresholds" in entry else "thresholds"
    if key not in entry:
        return DEFAULT_THRESHOLDS
    values = entry[key]
    if not isinstance(values, list):
        where.key(entry, key).fail("must be a list of fractions of the limit, e.g. [0.5, 0.8, 1.0]")
    thresholds = set()
    for index, value in enumerate(values):
        fraction = _decimal(value)
        if fraction is None or not 0 < fraction <= 10:
            where.key(entry, key).item(values, index).fail(
                f"{_shown(value)} is not a fraction of the limit (0.8 means 80 %; from above 0 to 10)")
        thresholds.add(fraction.normalize())
    return tuple(sorted(thresholds))


def _amount(entry: dict, key: str, where: _Where) -> Decimal:
    amount = _decimal(entry[key])
    if amount is None or not 0 < amount < MAX_AMOUNT:
        where.key(entry, key).fail(f"must be a positive amount in USD, got {_shown(entry[key])}")
    if amount != amount.quantize(Decimal("0.000000000001")):
        where.key(entry, key).fail("has more than 12 decimal places")
    return amount


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, float):
            value = repr(value)  # from JSON: the shortest text that reads back as this float
        amount = Decimal(value) if isinstance(value, (int, str, Decimal)) else None
    except InvalidOperation:
        return None
    return amount if amount is not None and amount.is_finite() else None


def _shown(value: Any) -> str:
    return str(value) if isinstance(value, (Decimal, int)) and not isinstance(value, bool) else repr(value)


def _flag(entry: dict, key: str, default: bool, where: _Where) -> bool:
    value = entry.get(key, default)
    if not isinstance(value, bool):
        where.key(entry, key).fail("must be true or false")
    return value


def _optional_text(entry: dict, key: str, where: _Where) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or (key in entry and not value.strip()):
        where.key(entry, key).fail("must be a non-empty string")
    return value.strip()


def _channels(values: Any, where: _Where) -> tuple[Channel, ...]:
    if not isinstance(values, list):
        where.fail("must be a list of channels (type: webhook, slack or email)")
    channels = []
    for index, config in enumerate(values):
        item_where = where.item(values, index)
        try:
            channels.append(parse_channel(config))
        except ChannelConfigError as exc:
            item_where.nested(config, exc.key).fail(exc.message)
    return tuple(channels)


def _derived_id(scope: str, value: str, tenant: str, where: _Where) -> str:
    base = value if scope == "app" else "all" if scope == "all" else f"{scope}={value}"
    if tenant:
        base = f"{tenant}:{base}"  # the same user id in two tenants makes two budgets
    if not _ID.match(base + ".monthly"):
        where.fail(f"cannot make a budget id from {base!r}; give the budget an id")
    return base


def _check_id(budget_id: str, where: _Where) -> None:
    if not _ID.match(budget_id):
        where.fail(f"budget id {budget_id!r} must be letters, digits and _ . : @ = + - (at most 128), "
                   "starting with a letter or digit")


def _reject_unknown(mapping: dict, known: tuple[str, ...], where: _Where) -> None:
    for key in mapping:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            where.key(mapping, key).fail(f"unknown key ({hint}expected one of: {', '.join(known)})")


# --- where a value came from, for error messages ---------------------------------------------


class _LocatedMap(dict):
    """A YAML mapping that remembers its line and the line of each key."""

    line: int | None = None
    key_lines: dict


class _LocatedList(list):
    line: int | None = None
    item_lines: list


def _located(node: yaml.Node, source: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        mapping = _LocatedMap()
        mapping.line, mapping.key_lines = node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = _located(key_node, source)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                raise BudgetFileError(f"{source}:{line}: keys must be strings, got {key!r}")
            if key in mapping:
                raise BudgetFileError(f"{source}:{line}: {key}: the key is given twice")
            mapping[key] = _located(value_node, source)
            mapping.key_lines[key] = line
        return mapping
    if isinstance(node, yaml.SequenceNode):
        items = _LocatedList(_located(item, source) for item in node.value)
        items.line, items.item_lines = node.start_mark.line + 1, [item.start_mark.line + 1 for item in node.value]
        return items
    if node.tag == "tag:yaml.org,2002:float":
        try:
            return Decimal(node.value.replace("_", ""))  # the text as written, not a binary float
        except InvalidOperation:
            pass  # .inf, .nan: the float says what is wrong
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


class _Where:
    """A position in the document: the key path for the message, and the line when known."""

    def __init__(self, source: str, label: str, line: int | None):
        self.source, self.label, self.line = source, label, line

    def key(self, mapping: Any, key: str) -> _Where:
        line = getattr(mapping, "key_lines", {}).get(key, self.line)
        return _Where(self.source, f"{self.label}.{key}" if self.label else key, line)

    def item(self, items: Any, index: int) -> _Where:
        lines = getattr(items, "item_lines", [])
        return _Where(self.source, f"{self.label}[{index}]", lines[index] if index < len(lines) else self.line)

    def nested(self, mapping: Any, dotted_key: str) -> _Where:
        """The position of "smtp.port" inside `mapping`, as deep as the data goes."""
        where = self
        for part in filter(None, dotted_key.split(".")):
            where = where.key(mapping, part)
            mapping = mapping.get(part) if isinstance(mapping, dict) else None
        return where

    def fail(self, message: str) -> NoReturn:
        place = f"{self.source}:{self.line}" if self.line else self.source
        raise BudgetFileError(f"{place}: {self.label}: {message}" if self.label else f"{place}: {message}")
