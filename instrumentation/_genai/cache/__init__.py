"""The response cache that every SDK patch consults through the `_genai` call hook.

    cache = active_cache()                                  # from LLMLEDGER_CACHE..., or `configure()`
    lookup = cache.prepare(provider="openai", endpoint="/chat/completions", body=body,
                           attributes=call.start_attributes, resource=resource_attributes)
    if lookup is not None and cache.find(lookup):           # lookup.hit: a CachedResponse
        ...replay lookup.hit...
    else:
        ...send, then cache.store(lookup, CachedResponse(...)) for a whole answer...

- `keys`      the key (partition + provider + endpoint + what shapes the answer) and the rules
              of what is never cached;
- `entry`     the stored answer: the provider's body as sent, and the original call's usage;
- `backends`  in-process bounded LRU, or Redis for many replicas;
- `semantic`  the pluggable embedder, the offline default, and the nearest-question index;
- `settings`  the environment variables.

A call opts in or out on its own with `llmledger.instrumentation.cache.scope(...)`, the
request header `X-LLMLedger-Cache: exact|semantic|off` or `extra_body={"llmledger_cache": ...}`
(both removed before the request is sent).
"""
from __future__ import annotations

import logging
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Mapping

from .backends import MemoryBackend, RedisBackend
from .entry import CachedResponse
from .keys import partition_of, request_key, why_not_cacheable
from .semantic import SemanticIndex, WordLlamaEmbedder, split_question
from .settings import CacheSettings, CacheSettingsError

logger = logging.getLogger("llmledger.instrumentation")

DIRECTIVE_HEADER = "x-llmledger-cache"
DIRECTIVE_BODY_FIELD = "llmledger_cache"
DIRECTIVE_MODES = ("exact", "semantic", "off")


@dataclass(frozen=True)
class Directive:
    """What one call (or block of calls) asks of the cache; None leaves a setting as configured."""

    mode: str | None = None  # exact | semantic | off
    ttl: float | None = None
    any_temperature: bool | None = None

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in DIRECTIVE_MODES:
            raise ValueError(f"cache mode must be one of {', '.join(DIRECTIVE_MODES)}, got {self.mode!r}")
        if self.ttl is not None and self.ttl <= 0:
            raise ValueError(f"cache ttl must be positive, got {self.ttl}")

    def over(self, outer: "Directive | None") -> "Directive":
        if outer is None:
            return self
        return Directive(self.mode or outer.mode, self.ttl if self.ttl is not None else outer.ttl,
                         self.any_temperature if self.any_temperature is not None else outer.any_temperature)


def directive_of(value: Any) -> Directive | None:
    """A call's own directive as the app wrote it (a header or a body field: the mode), or
    None when no directive was given or it names no mode we know."""
    if value is None:
        return None
    try:
        return Directive(mode=str(value).strip().lower())
    except ValueError:
        return None


current_directive: ContextVar[Directive | None] = ContextVar("llmledger_cache_directive", default=None)


@dataclass
class Lookup:
    """One call's way through the cache."""

    key: str
    ttl: float
    question: tuple[str, str] | None = None  # (text, bucket) for the semantic index
    vector: Any = None
    hit: CachedResponse | None = None
    hit_kind: str = ""  # exact | semantic
    similarity: float | None = None


class ResponseCache:
    def __init__(self, settings: CacheSettings, backend=None, embedder=None):
        self.settings = settings
        self.backend = backend or MemoryBackend(settings.max_entries, settings.max_bytes)
        self._embedder = embedder
        self._index: SemanticIndex | None = None
        self._index_failed = False
        self._lock = threading.Lock()

    def prepare(self, *, provider: str, endpoint: str, body: Mapping[str, Any], attributes: Mapping[str, Any],
                resource: Mapping[str, Any] | None, directive: Directive | None = None) -> Lookup | None:
        """The call's lookup, or None when the cache is off for it or it may not be cached."""
        directive = directive or Directive()
        if directive.mode == "off" or not (self.settings.enabled or directive.mode):
            return None
        any_temperature = self.settings.any_temperature if directive.any_temperature is None \
            else directive.any_temperature
        reason = why_not_cacheable(endpoint, body, any_temperature)
        if reason is not None:
            logger.debug("llmledger cache: not cached: %s", reason)
            return None
        partition = partition_of(attributes, resource, self.settings.partition)
        lookup = Lookup(request_key(partition, provider, endpoint, body), directive.ttl or self.settings.ttl)
        if self.settings.semantic or directive.mode == "semantic":
            split = split_question(endpoint, body)
            if split is not None:
                text, context = split
                lookup.question = (text, request_key(partition, provider, endpoint, context))
        return lookup

    def find(self, lookup: Lookup) -> bool:
        """Look the answer up (exact first, then semantic); True on a hit (`lookup.hit`)."""
        data = self.backend.get(lookup.key)
        entry = CachedResponse.decode(data) if data is not None else None
        if entry is not None:
            lookup.hit, lookup.hit_kind = entry, "exact"
            return True
        index = self.index() if lookup.question is not None else None
        if index is None:
            return False
        text, bucket = lookup.question
        lookup.vector = index.vector(text)
        nearest = index.nearest(bucket, lookup.vector, text)
        if nearest is None:
            return False
        data = self.backend.get(nearest[0])
        entry = CachedResponse.decode(data) if data is not None else None
        if entry is None:
            return False
        lookup.hit, lookup.hit_kind, lookup.similarity = entry, "semantic", nearest[1]
        return True

    def store(self, lookup: Lookup, entry: CachedResponse) -> None:
        self.backend.set(lookup.key, entry.encode(), lookup.ttl)
        if lookup.question is not None:
            index = self.index()
            if index is not None:
                if lookup.vector is None:
                    lookup.vector = index.vector(lookup.question[0])
                index.add(lookup.question[1], lookup.key, lookup.question[0], lookup.vector, lookup.ttl)

    def index(self) -> SemanticIndex | None:
        """The semantic index, its embedder loaded on first use (None if it cannot be)."""
        if self._index is not None or self._index_failed:
            return self._index
        with self._lock:
            if self._index is None and not self._index_failed:
                try:
                    embedder = self._embedder or WordLlamaEmbedder()
                    self._index = SemanticIndex(self.backend, embedder, self.settings.semantic_threshold)
                except ImportError as exc:
                    self._index_failed = True
                    logger.warning("llmledger cache: the semantic cache needs the 'semantic' extra "
                                   "(pip install 'llmledger-instrumentation[semantic]'): %s; exact cache only", exc)
        return self._index


# --- the process-wide cache -----------------------------------------------------------------

_active: ResponseCache | None = None
_configured = False
_active_lock = threading.Lock()


def configure(settings: CacheSettings | None = None, *, backend=None, embedder=None) -> ResponseCache | None:
    """Set the process's cache (settings from the environment when None). Returns None when
    the settings ask for Redis and the `redis` client is not installed (one warning)."""
    global _active, _configured
    try:
        settings = settings if settings is not None else CacheSettings.from_env()
    except CacheSettingsError as exc:
        logger.error("llmledger cache: %s; caching is off", exc)
        settings = None
    cache = None
    if settings is not None:
        try:
            if backend is None and settings.redis_url:
                backend = RedisBackend(settings.redis_url)
            cache = ResponseCache(settings, backend, embedder)
        except ImportError:
            logger.warning("llmledger cache: LLMLEDGER_CACHE asks for Redis but the 'redis' client is not "
                           "installed (pip install 'llmledger-instrumentation[redis]'); caching is off")
    with _active_lock:
        _active, _configured = cache, True
    return cache


def reset() -> None:
    """Forget the process's cache: the environment is read again at the next call."""
    global _active, _configured
    with _active_lock:
        _active, _configured = None, False


def active_cache() -> ResponseCache | None:
    if not _configured:
        configure()
    return _active


__all__ = ["CacheSettings", "CacheSettingsError", "CachedResponse", "Directive", "Lookup", "MemoryBackend",
           "RedisBackend", "ResponseCache", "active_cache", "configure", "current_directive", "reset"]
