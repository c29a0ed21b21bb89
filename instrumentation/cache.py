"""The response cache, for code: turn it on, and opt blocks of calls in or out.

    from llmledger.instrumentation import cache

    cache.enable()                                   # in-process exact cache (= LLMLEDGER_CACHE=exact)
    cache.enable(redis_url="redis://cache:6379/0", semantic=True, ttl=600)
    cache.disable()

    with cache.scope("exact", ttl=600):              # these calls only (also when not enabled)
        client.chat.completions.create(..., temperature=0)

    @cache.scope("semantic", any_temperature=True)   # a decorator too, sync or async
    def answer_faq(question): ...

    with cache.scope("off"):                         # never from the cache
        ...

A single call can also ask with the header `X-LLMLedger-Cache: exact|semantic|off`
(`extra_headers=`) or `extra_body={"llmledger_cache": "exact"}`; either is removed before
the request leaves the app. Which calls may be cached at all, and how keys are
partitioned by app and tenant, is described in `llmledger.instrumentation._genai.cache`.
"""
from __future__ import annotations

import functools
import inspect
from contextvars import Token
from typing import Any, Callable, TypeVar

from ._genai.cache import (
    CacheSettings,
    Directive,
    ResponseCache,
    active_cache,
    configure,
    current_directive,
)

F = TypeVar("F", bound=Callable[..., Any])


def enable(*, redis_url: str | None = None, semantic: bool = False, ttl: float = 3600.0,
           max_entries: int = 10_000, max_mb: float = 64, semantic_threshold: float | None = None,
           partition: tuple[str, ...] = ("app", "tenant"), any_temperature: bool = False,
           embedder=None) -> ResponseCache | None:
    """Cache every cacheable call of this process. Returns None (after one warning) when
    Redis is asked for and the `redis` client is not installed."""
    settings = CacheSettings(enabled=True, redis_url=redis_url, semantic=semantic, ttl=ttl,
                             max_entries=max_entries, max_bytes=int(max_mb * (1 << 20)), partition=partition,
                             any_temperature=any_temperature,
                             **({} if semantic_threshold is None else {"semantic_threshold": semantic_threshold}))
    return configure(settings, embedder=embedder)


def disable() -> None:
    """No cache, also for calls that opt in (until `enable()` or `configure()`)."""
    configure(None)


def scope(mode: str | None = "exact", *, ttl: float | None = None, any_temperature: bool | None = None) -> "CacheScope":
    """Ask the cache something for the calls of a block or a function: mode exact, semantic or off."""
    return CacheScope(Directive(mode, ttl, any_temperature))


class CacheScope:
    """Context manager and decorator returned by `scope()`."""

    def __init__(self, directive: Directive):
        self.directive = directive
        self._tokens: list[Token] = []

    def _attach(self) -> Token:
        return current_directive.set(self.directive.over(current_directive.get()))

    def __enter__(self) -> "CacheScope":
        self._tokens.append(self._attach())
        return self

    def __exit__(self, *exc_info: object) -> None:
        current_directive.reset(self._tokens.pop())

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                token = self._attach()
                try:
                    return await func(*args, **kwargs)
                finally:
                    current_directive.reset(token)

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            token = self._attach()
            try:
                return func(*args, **kwargs)
            finally:
                current_directive.reset(token)

        return run  # type: ignore[return-value]


__all__ = ["CacheScope", "active_cache", "disable", "enable", "scope"]
