"""What the user switched on, read once from the environment when instrumenting.

Environment variables (all optional):

- `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` (default false): record the
  prompt and the answer on the span (`gen_ai.input.messages`,
  `gen_ai.output.messages`). Off by default: message content is private.
  `true`/`false` (also `1`/`0`, `yes`/`no`, and the conventions' newer
  `span_only`, `span_and_event`, `event_only`, `no_content`).
- `LLMLEDGER_CAPTURE_CONTENT_MAX_CHARS` (default 2000): when capturing, each text
  is cut to this many characters.
- `LLMLEDGER_OPENAI_INCLUDE_USAGE` (default false): ask OpenAI for a usage chunk at
  the end of streamed chat and completion calls (`stream_options.include_usage`),
  so streamed calls are never left uncounted. Only applied when the app did not
  set `include_usage` itself; the extra usage-only chunk is then consumed by the
  instrumentation and not shown to the app. Off by default because some
  OpenAI-compatible servers reject `stream_options`.
- `LLMLEDGER_OPENAI_PROVIDER` (default: derived from the server address): the
  `gen_ai.provider.name` for every OpenAI-SDK call, for gateways and proxies whose
  host name says nothing about who serves the model.

- `OTEL_METRICS_EXPORTER`: when it is `none`, the GenAI metrics are not recorded
  at all (the SDK would still spend time on every measurement it then drops),
  unless a `meter_provider` is passed to `instrument()` explicitly.

`Settings.from_env()` raises `SettingsError` naming the variable and the bad value.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
CONTENT_MAX_CHARS_ENV = "LLMLEDGER_CAPTURE_CONTENT_MAX_CHARS"
OPENAI_INCLUDE_USAGE_ENV = "LLMLEDGER_OPENAI_INCLUDE_USAGE"
OPENAI_PROVIDER_ENV = "LLMLEDGER_OPENAI_PROVIDER"
METRICS_EXPORTER_ENV = "OTEL_METRICS_EXPORTER"

_TRUE = {"true", "1", "yes", "on", "span_only", "span_and_event"}
# "event_only" asks for log events, which this instrumentation does not emit.
_FALSE = {"false", "0", "no", "off", "", "no_content", "event_only"}


class SettingsError(ValueError):
    """An environment variable holds a value the instrumentation cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    capture_content: bool = False
    content_max_chars: int = 2000
    openai_include_usage: bool = False
    openai_provider: str | None = None
    record_metrics: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            capture_content=_flag(env, CAPTURE_CONTENT_ENV, False),
            content_max_chars=_count(env, CONTENT_MAX_CHARS_ENV, 2000),
            openai_include_usage=_flag(env, OPENAI_INCLUDE_USAGE_ENV, False),
            openai_provider=(env.get(OPENAI_PROVIDER_ENV) or "").strip() or None,
            record_metrics=(env.get(METRICS_EXPORTER_ENV) or "").strip().lower() != "none",
        )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a whole number of characters, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative, got {raw!r}")
    return value
