"""The service's settings: one YAML file, then `LLMLEDGER_…` environment variables, then flags.

Every setting is declared once in SETTINGS, with its type and default; the file is
checked against it at start and every mistake is reported at once, each with the file,
line and key:

    llmledger.yaml:4: http.prot: unknown key (expected one of: host, port, max_request_bytes)

An `LLMLEDGER_…` variable that nothing reads is most likely a typo: it is reported with
the closest name that something does read.
"""
from __future__ import annotations

import difflib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """Every mistake found, one per line in `problems`."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ValueError("must be a port number 0-65535")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _optional_name(value: Any) -> str | None:
    """A ClickHouse identifier (it ends up in SQL text), or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", value):
        raise ValueError("must be a plain name: letters, digits and underscores")
    return value


def _days(minimum: int) -> Callable[[Any], int]:
    """Retention in days; 0 keeps rows forever. `minimum` keeps what budgets read."""
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("must be a whole number of days (0 keeps rows forever)")
        if 0 < value < minimum:
            raise ValueError(f"must be 0 or at least {minimum} days: budgets read a whole month of it")
        return value
    return parse


def _zone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(_text(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}: use an IANA name such as UTC or Europe/Berlin") from None
    return value


def _model_map(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and k and v
                                              for k, v in value.items()):
        raise ValueError("must map model names to model names, e.g. {gpt-4o: gpt-4o-mini}")
    return dict(value)


def _report_schedules(value: Any) -> list:
    """Checked here, so that a mistake stops the start; built by reports.schedule_of(config)."""
    from .reports.schedule import parse_schedules

    parse_schedules(value)
    return list(value or [])


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


@dataclass(frozen=True)
class Setting:
    default: Any
    parse: Callable[[Any], Any]
    help: str


# section -> key -> Setting. The environment variable is LLMLEDGER_<SECTION>_<KEY>, except
# where ENV_NAMES gives a shorter, documented name.
SETTINGS: dict[str, dict[str, Setting]] = {
    "http": {
        "host": Setting("127.0.0.1", _text, "address the OTLP/HTTP receiver and the API listen on"),
        "port": Setting(4318, _port, "OTLP/HTTP port (0 picks a free one)"),
        "max_request_bytes": Setting(16 << 20, _positive_int, "largest accepted request, also after decompression"),
        "max_inflight_bytes": Setting(256 << 20, _positive_int,
                                      "request bytes held at once by both receivers; beyond it, answer 503"),
    },
    "grpc": {
        "enabled": Setting(True, _flag, "run the OTLP/gRPC receiver"),
        "host": Setting("127.0.0.1", _text, "address the OTLP/gRPC receiver listens on"),
        "port": Setting(4317, _port, "OTLP/gRPC port (0 picks a free one)"),
        "max_concurrent_requests": Setting(4, _positive_int,
                                           "requests read and processed at once; one more waits up to 0.5 s, "
                                           "then is answered UNAVAILABLE"),
    },
    "storage": {
        "data_dir": Setting("./llmledger-data", _text, "embedded ClickHouse and the write-ahead log live here"),
        "clickhouse_url": Setting(None, _optional_text, "a ClickHouse server, e.g. http://user:pass@host:8123"),
        "database": Setting("llmledger", _text, "ClickHouse database"),
        "cluster": Setting(None, _optional_name, "a ClickHouse cluster (remote_servers) to lay the schema out on: "
                                                 "Replicated tables, Distributed ones over the shards, ON CLUSTER DDL"),
    },
    "wal": {
        "enabled": Setting(True, _flag, "false: keep the log in memory (faster; acknowledged spans die with the "
                                        "process) - for measuring what the log costs"),
        "max_bytes": Setting(1 << 30, _positive_int, "bound of the write-ahead log; when full, answer 503"),
        "segment_bytes": Setting(64 << 20, _positive_int, "size of one log segment file"),
        "fsync": Setting(True, _flag, "fsync before acknowledging (turn off only for benchmarks)"),
    },
    "workers": {
        "processes": Setting(2, _non_negative_int, "processes that read and price requests beside the service's "
                                                   "own; 0 does it in the service's process"),
    },
    "writer": {
        "batch_bytes": Setting(32 << 20, _positive_int, "log bytes per ClickHouse insert, at most (about 30,000 "
                                                       "spans; bigger inserts cost the store less)"),
        "flush_interval_ms": Setting(1000, _positive_int, "longest wait to fill a batch"),
    },
    "auth": {
        "enabled": Setting(False, _flag, "require an API key (see `llmledger keys`) on both receivers"),
        "keys_file": Setting(None, _optional_text, "hashed API keys (default: <data_dir>/api-keys.json)"),
    },
    "budgets": {
        "file": Setting(None, _optional_text, "YAML budgets, loaded into the store at start"),
        "evaluate_interval_s": Setting(30, _positive_int, "how often spend is reconciled and alerts evaluated"),
    },
    "pricing": {
        "price_book": Setting(None, _optional_text, "YAML price book for custom models and discounts"),
    },
    "reports": {
        "timezone": Setting("UTC", _zone, "time zone of report periods (and of schedules without their own)"),
        "pages_url": Setting(None, _optional_text, "the built-in pages' address, for links in reports "
                                                   "(default: the service's own)"),
        "cheaper_models": Setting({}, _model_map, "model -> a cheaper model of its family, for the what-ifs "
                                                  "(adds to and overrides the built-in list)"),
        "schedules": Setting([], _report_schedules, "reports sent on schedule by serve (processor/reports/schedule.py)"),
        "check_interval_s": Setting(60, _positive_int, "how often serve looks for reports that are due"),
    },
    # Which tables each key covers: storage/retention.py.
    "retention": {
        "raw_spans_days": Setting(30, _days(1), "every span, log record and metric point as received (otel_traces, otel_logs, otel_metrics_*)"),
        "llm_spans_days": Setting(400, _days(35), "one priced row per LLM call (llm_spans)"),
        "rollups_days": Setting(0, _days(35), "hourly and daily cost rollups"),
        "alerts_days": Setting(400, _days(35), "the alert log and notification deliveries"),
    },
}

ENV_NAMES = {
    ("http", "port"): "LLMLEDGER_HTTP_PORT",
    ("grpc", "port"): "LLMLEDGER_GRPC_PORT",
    ("storage", "data_dir"): "LLMLEDGER_DATA_DIR",
    ("storage", "clickhouse_url"): "LLMLEDGER_CLICKHOUSE_URL",
    ("pricing", "price_book"): "LLMLEDGER_PRICE_BOOK",
    ("budgets", "file"): "LLMLEDGER_BUDGETS",
}


# Read elsewhere: the config file's own variable, the SMTP server (notify/smtp.py), and the
# instrumentation in the apps (instrumentation/), which often share an environment with
# the service.
OTHER_ENV_NAMES = frozenset({
    "LLMLEDGER_CONFIG",
    "LLMLEDGER_SMTP_HOST", "LLMLEDGER_SMTP_PORT", "LLMLEDGER_SMTP_SECURITY", "LLMLEDGER_SMTP_USERNAME",
    "LLMLEDGER_SMTP_FROM", "LLMLEDGER_SMTP_CA_FILE", "LLMLEDGER_SMTP_PASSWORD",
    "LLMLEDGER_BUDGET_URL", "LLMLEDGER_BUDGET_API_KEY", "LLMLEDGER_BUDGET_CACHE_SECONDS",
    "LLMLEDGER_BUDGET_FAIL_OPEN", "LLMLEDGER_BUDGET_TIMEOUT",
    "LLMLEDGER_CAPTURE_CONTENT_MAX_CHARS", "LLMLEDGER_OPENAI_INCLUDE_USAGE", "LLMLEDGER_OPENAI_PROVIDER",
    "LLMLEDGER_CACHE", "LLMLEDGER_CACHE_TTL", "LLMLEDGER_CACHE_MAX_ENTRIES", "LLMLEDGER_CACHE_MAX_MB",
    "LLMLEDGER_CACHE_REDIS_URL", "LLMLEDGER_CACHE_SEMANTIC_THRESHOLD", "LLMLEDGER_CACHE_PARTITION",
    "LLMLEDGER_CACHE_ANY_TEMPERATURE", "LLMLEDGER_ROUTING_FILE",
    "LLMLEDGER_API_KEY",  # the Collector's key for the service, in deploy/otel-collector.yaml
})


def env_name(section: str, key: str) -> str:
    return ENV_NAMES.get((section, key), f"LLMLEDGER_{section}_{key}".upper())


def known_env_names() -> set[str]:
    return {env_name(section, key) for section, keys in SETTINGS.items() for key in keys} | OTHER_ENV_NAMES


def unknown_env_names(environ) -> list[tuple[str, str | None]]:
    """(name, the closest known name or None) for each LLMLEDGER_ variable nothing reads."""
    known = known_env_names()
    # The long spelling of a setting that has a short name is an easy mistake to make.
    long_names = {f"LLMLEDGER_{section}_{key}".upper(): short for (section, key), short in ENV_NAMES.items()}
    prefix = len("LLMLEDGER_")
    tails = {name[prefix:]: name for name in known}
    found = []
    for name in sorted(environ):
        if name.startswith("LLMLEDGER_") and name not in known:
            close = difflib.get_close_matches(name[prefix:], tails, n=1, cutoff=0.6)
            found.append((name, long_names.get(name) or (tails[close[0]] if close else None)))
    return found


class Config:
    """Resolved settings, read as `config.http.port`, `config.storage.data_dir`, …"""

    def __init__(self, values: dict[str, dict[str, Any]], source: str):
        self._values = values
        self.source = source  # where the file came from, for the start-up line
        for section, keys in values.items():
            setattr(self, section, _Section(keys))

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {section: dict(keys) for section, keys in self._values.items()}


class _Section:
    def __init__(self, keys: dict[str, Any]):
        self.__dict__.update(keys)


def load_config(path: str | Path | None = None, *, overrides: dict[tuple[str, str], Any] | None = None,
                environ: dict[str, str] | None = None) -> Config:
    """Defaults < file < environment < overrides (the command-line flags that were given).
    Raises ConfigError listing every mistake in the file, the environment and the flags."""
    environ = os.environ if environ is None else environ
    values = {section: {key: s.default for key, s in keys.items()} for section, keys in SETTINGS.items()}
    problems: list[str] = []
    if path:
        _apply_file(Path(path), values, problems)
    for section, keys in SETTINGS.items():
        for key, setting in keys.items():
            name = env_name(section, key)
            if name in environ:
                try:
                    values[section][key] = _from_env(environ[name], setting)
                except ValueError as exc:
                    problems.append(f"environment variable {name}={environ[name]!r}: {exc}")
    for name, closest in unknown_env_names(environ):
        log.warning("environment variable %s is not a setting and is ignored%s", name,
                    f" (did you mean {closest}?)" if closest else "")
    for (section, key), value in (overrides or {}).items():
        if value is not None:
            try:
                values[section][key] = SETTINGS[section][key].parse(value)
            except ValueError as exc:
                problems.append(f"--{key.replace('_', '-')}: {exc}")
    problems += _retention_problems(values["retention"])
    if values["storage"]["cluster"] and not values["storage"]["clickhouse_url"]:
        problems.append("storage.cluster: needs storage.clickhouse_url (a node of that cluster); "
                        "the embedded store is one node")
    if problems:
        raise ConfigError(problems)
    return Config(values, str(path) if path else "defaults")


def _retention_problems(retention: dict[str, int]) -> list[str]:
    # A range whose calls are kept must have its rollup rows too, or reports would disagree.
    raw, rollups = retention["llm_spans_days"], retention["rollups_days"]
    if rollups and (not raw or rollups < raw):
        return [f"retention.rollups_days: {rollups} must be 0 (forever) or at least llm_spans_days "
                f"({raw or 'forever'}): rollups outlive the calls they sum"]
    return []


def _from_env(text: str, setting: Setting) -> Any:
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None
    if setting.parse in (_text, _optional_text):
        value = text or None  # a path or URL is text even when it looks like a number
    return setting.parse(value)


def _apply_file(path: Path, values: dict[str, dict[str, Any]], problems: list[str]) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:  # the parser stops at the first: nothing after it is known
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None:
        return
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}:{root.start_mark.line + 1}: the config must be a mapping of sections")
    for section_node, body in root.value:
        section = section_node.value
        line = section_node.start_mark.line + 1
        if section not in SETTINGS:
            problems.append(f"{path}:{line}: {section}: unknown section (expected one of: {', '.join(SETTINGS)})")
            continue
        if not isinstance(body, yaml.MappingNode):
            problems.append(f"{path}:{line}: {section}: must be a mapping of settings")
            continue
        for key_node, value_node in body.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            known = SETTINGS[section]
            if key not in known:
                problems.append(f"{path}:{line}: {section}.{key}: unknown key (expected one of: {', '.join(known)})")
                continue
            value = yaml.safe_load(yaml.serialize(value_node))
            try:
                values[section][key] = known[key].parse(value)
            except ValueError as exc:
                problems.append(f"{path}:{line}: {section}.{key}: {exc}")
