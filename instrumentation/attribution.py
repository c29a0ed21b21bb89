"""Who caused an LLM call: attribution that rides on the OTel context.

`attribute(app=..., user=..., feature=..., **tags)` sets attribution for a block of
code (a `with` block, or every call of a decorated function). Every GenAI span started
underneath copies it through `current_attributes()`.

The values are stored as W3C baggage entries, so they live in the OTel context (and are
therefore isolated per thread and per asyncio task) and they cross process boundaries
wherever the standard `baggage` propagator runs. The baggage key of each field is the
span attribute it becomes:

    app -> llmledger.app        user -> user.id            session -> session.id
    team -> llmledger.team      feature -> llmledger.feature
    tenant -> llmledger.tenant  any other keyword -> llmledger.tag.<name>

Baggage with those keys that arrived from an upstream service (extracted by the server
instrumentation, e.g. the ASGI one) is applied the same way, so a front end can name the
user once and every service beneath it bills that user. Values arriving that way are
validated like local ones; invalid entries are ignored.

Baggage is sent to every service that an instrumented HTTP client calls, third parties
included. Do not put anything secret into attribution.
"""
from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from contextvars import Token
from types import MappingProxyType
from typing import Any, TypeVar

from opentelemetry import baggage, context

logger = logging.getLogger(__name__)

#: Span attribute (and baggage key) for each named field of `attribute()`.
FIELD_ATTRIBUTES: Mapping[str, str] = MappingProxyType(
    {
        "app": "llmledger.app",
        "user": "user.id",
        "session": "session.id",
        "team": "llmledger.team",
        "feature": "llmledger.feature",
        "tenant": "llmledger.tenant",
    }
)
TAG_PREFIX = "llmledger.tag."

MAX_VALUE_LENGTH = 256
MAX_TAG_NAME_LENGTH = 64
MAX_TAGS = 32
_TAG_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_KNOWN_KEYS = frozenset(FIELD_ATTRIBUTES.values())

_EMPTY: Mapping[str, str] = MappingProxyType({})

# The context that `attribute()` attaches also carries the span attributes it computed,
# next to the baggage they were computed from, so that the per-span lookup is a dict
# comparison instead of a scan over the baggage.
_CACHE_KEY = context.create_key("llmledger-attribution")

F = TypeVar("F", bound=Callable[..., Any])


def validate_value(name: str, value: object) -> str:
    """Return `value` if it may be used as attribution, else raise naming `name`."""
    if not isinstance(value, str):
        raise TypeError(f"attribution {name!r} must be a string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"attribution {name!r} must not be empty")
    if len(value) > MAX_VALUE_LENGTH:
        raise ValueError(
            f"attribution {name!r} is {len(value)} characters long; the limit is {MAX_VALUE_LENGTH}"
        )
    if not value.isprintable():
        raise ValueError(f"attribution {name!r} contains non-printable characters")
    if value != value.strip():
        # The baggage propagator strips whitespace, so the value would change on the wire.
        raise ValueError(f"attribution {name!r} has leading or trailing whitespace")
    return value


def validate_tag_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"attribution tag name {name!r} must be a non-empty string")
    if len(name) > MAX_TAG_NAME_LENGTH:
        raise ValueError(f"attribution tag name {name!r} is longer than {MAX_TAG_NAME_LENGTH} characters")
    if not _TAG_NAME_CHARACTERS.issuperset(name):
        raise ValueError(f"attribution tag name {name!r} may only use letters, digits, '_', '-' and '.'")
    return name


def attribution_entries(fields: Mapping[str, str | None], tags: Mapping[str, str | None]) -> dict[str, str]:
    """Validate named fields and tags; return them keyed by span attribute. None means "not set"."""
    entries: dict[str, str] = {}
    for field, value in fields.items():
        if value is not None:
            entries[FIELD_ATTRIBUTES[field]] = validate_value(field, value)
    given_tags = {name: value for name, value in tags.items() if value is not None}
    if len(given_tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} attribution tags may be set at once, got {len(given_tags)}")
    for name, value in given_tags.items():
        entries[TAG_PREFIX + validate_tag_name(name)] = validate_value(name, value)
    return entries


class AttributionScope:
    """Context manager and decorator returned by `attribute()`.

    Entering attaches a context whose baggage carries the entries (inner scopes override
    outer ones key by key); leaving restores the previous context. As a decorator, each
    call of the function runs in its own scope, so one decorated function may run in
    many threads or tasks at once. Used with `with`, one scope object serves one
    thread or task at a time: call `attribute()` again for each concurrent block.
    """

    __slots__ = ("_entries", "_tokens")

    def __init__(self, entries: Mapping[str, str]):
        self._entries = dict(entries)
        self._tokens: list[Token[context.Context]] = []

    @property
    def entries(self) -> Mapping[str, str]:
        return MappingProxyType(self._entries)

    def _attach(self) -> Token[context.Context]:
        ctx = context.get_current()
        for key, value in self._entries.items():
            ctx = baggage.set_baggage(key, value, ctx)
        bag = baggage.get_all(ctx)
        ctx = context.set_value(_CACHE_KEY, (dict(bag), attributes_from_baggage(bag)), ctx)
        return context.attach(ctx)

    def __enter__(self) -> AttributionScope:
        self._tokens.append(self._attach())
        return self

    def __exit__(self, *exc_info: object) -> None:
        context.detach(self._tokens.pop())

    def __call__(self, func: F) -> F:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            # A generator runs after the call returns, outside any scope set around the call.
            raise TypeError(
                f"attribute() cannot decorate the generator function {func.__qualname__}; "
                "use it as a context manager around the code that consumes the generator"
            )
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                token = self._attach()
                try:
                    return await func(*args, **kwargs)
                finally:
                    context.detach(token)

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            token = self._attach()
            try:
                return func(*args, **kwargs)
            finally:
                context.detach(token)

        return run  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"attribute({self._entries!r})"


def attribute(
    app: str | None = None,
    user: str | None = None,
    team: str | None = None,
    feature: str | None = None,
    tenant: str | None = None,
    session: str | None = None,
    **tags: str | None,
) -> AttributionScope:
    """Attribute the LLM calls made inside a block or a function.

        with attribute(user="u-42", feature="summarize"):
            client.messages.create(...)

        @attribute(feature="nightly-report", plan="enterprise")   # tag llmledger.tag.plan
        async def build_report(): ...

    Values must be non-empty printable strings of at most 256 characters; None leaves a
    field as the enclosing scope set it. Raises TypeError/ValueError naming the bad field.
    """
    fields = {"app": app, "user": user, "team": team, "feature": feature, "tenant": tenant, "session": session}
    return AttributionScope(attribution_entries(fields, tags))


def attributes_from_baggage(bag: Mapping[str, object]) -> Mapping[str, str]:
    """The span attributes that the attribution entries of `bag` stand for.

    Entries that are not attribution, or whose value is invalid (e.g. from an upstream
    service), are left out.
    """
    found: dict[str, str] = {}
    for key, value in bag.items():
        if key in _KNOWN_KEYS or key.startswith(TAG_PREFIX):
            try:
                if key.startswith(TAG_PREFIX):
                    validate_tag_name(key[len(TAG_PREFIX) :])
                found[key] = validate_value(key, value)
            except (TypeError, ValueError) as error:
                logger.debug("ignoring attribution baggage entry: %s", error)
    return MappingProxyType(found) if found else _EMPTY


def current_attributes(ctx: context.Context | None = None) -> Mapping[str, str]:
    """The attribution span attributes for `ctx`, by default the current context (empty
    when none is set).

    Called at every GenAI span start, so the common cases are cheap: no baggage at all,
    or baggage that `attribute()` set and already turned into attributes.
    """
    bag = baggage.get_all(ctx)
    if not bag:
        return _EMPTY
    cached = context.get_value(_CACHE_KEY, ctx)
    if cached is not None and cached[0] == bag:
        return cached[1]
    # Baggage from upstream, or changed since `attribute()` ran: compute it now.
    return attributes_from_baggage(bag)
