"""The response cache's settings: from the environment, or given in code.

    LLMLEDGER_CACHE=exact            in-process exact cache for every cacheable call
    LLMLEDGER_CACHE=redis            exact cache in Redis (LLMLEDGER_CACHE_REDIS_URL)
    LLMLEDGER_CACHE=semantic         exact + semantic, in process
    LLMLEDGER_CACHE=redis,semantic   exact + semantic, in Redis
    LLMLEDGER_CACHE=off              (the default) only calls that opt in are cached

    LLMLEDGER_CACHE_TTL=3600                 seconds an answer is kept
    LLMLEDGER_CACHE_MAX_ENTRIES=10000        in-process bound on answers ...
    LLMLEDGER_CACHE_MAX_MB=64                ... and on their bytes
    LLMLEDGER_CACHE_REDIS_URL=redis://127.0.0.1:6379/0
    LLMLEDGER_CACHE_SEMANTIC_THRESHOLD=0.97  cosine similarity a paraphrase must reach
    LLMLEDGER_CACHE_PARTITION=app,tenant     add `user` to keep answers per user too
    LLMLEDGER_CACHE_ANY_TEMPERATURE=false    true: also cache calls sampled above temperature 0
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from .keys import DEFAULT_PARTITION, PARTITION_FIELDS
from .semantic import DEFAULT_THRESHOLD

MODES = ("off", "exact", "redis", "semantic")


class CacheSettingsError(ValueError):
    pass


@dataclass(frozen=True)
class CacheSettings:
    enabled: bool = False  # cache every cacheable call (else only those that opt in)
    redis_url: str | None = None  # None: in process
    semantic: bool = False
    ttl: float = 3600.0
    max_entries: int = 10_000
    max_bytes: int = 64 << 20
    semantic_threshold: float = DEFAULT_THRESHOLD
    partition: tuple[str, ...] = DEFAULT_PARTITION
    any_temperature: bool = False

    def __post_init__(self) -> None:
        if self.ttl <= 0 or self.max_entries < 1 or self.max_bytes < 1:
            raise CacheSettingsError("cache TTL, entry and byte bounds must be positive")
        if not 0 < self.semantic_threshold <= 1:
            raise CacheSettingsError(f"semantic threshold must be in (0, 1], got {self.semantic_threshold}")
        unknown = set(self.partition) - set(PARTITION_FIELDS)
        if unknown or "app" not in self.partition or "tenant" not in self.partition:
            raise CacheSettingsError(f"cache partition must include app and tenant (and may add user), "
                                     f"got {','.join(self.partition)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "CacheSettings":
        env = os.environ if environ is None else environ
        modes = {m.strip().lower() for m in env.get("LLMLEDGER_CACHE", "off").split(",") if m.strip()} or {"off"}
        if not modes <= set(MODES) or ("off" in modes and len(modes) > 1):
            raise CacheSettingsError(f"LLMLEDGER_CACHE must be one of {', '.join(MODES)} (or redis,semantic), "
                                     f"got {env.get('LLMLEDGER_CACHE')!r}")
        redis_url = env.get("LLMLEDGER_CACHE_REDIS_URL") or "redis://127.0.0.1:6379/0"
        return cls(
            enabled="off" not in modes,
            redis_url=redis_url if "redis" in modes else None,
            semantic="semantic" in modes,
            ttl=_number(env, "LLMLEDGER_CACHE_TTL", 3600.0),
            max_entries=int(_number(env, "LLMLEDGER_CACHE_MAX_ENTRIES", 10_000)),
            max_bytes=int(_number(env, "LLMLEDGER_CACHE_MAX_MB", 64) * (1 << 20)),
            semantic_threshold=_number(env, "LLMLEDGER_CACHE_SEMANTIC_THRESHOLD", DEFAULT_THRESHOLD),
            partition=tuple(p.strip() for p in env.get("LLMLEDGER_CACHE_PARTITION", "app,tenant").split(",")
                            if p.strip()),
            any_temperature=env.get("LLMLEDGER_CACHE_ANY_TEMPERATURE", "").strip().lower() in ("1", "true", "yes"),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    try:
        return float(text) if text else default
    except ValueError:
        raise CacheSettingsError(f"{name} must be a number, got {text!r}") from None
