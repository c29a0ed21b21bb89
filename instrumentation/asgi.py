"""ASGI middleware that attributes a request's LLM calls from its headers.

    app.add_middleware(AttributionMiddleware)                       # Starlette / FastAPI
    app = AttributionMiddleware(app, header_map={"X-Customer": "tenant"})   # any ASGI app

For the whole life of an HTTP or WebSocket request (streamed response bodies included)
the mapped header values are set with `attribute()`, so every GenAI span started while
serving the request carries them. A header that is absent leaves the field as the
enclosing context has it (e.g. from incoming W3C baggage). A header whose value is not
valid attribution (too long, non-printable, ...) is ignored and logged: attribution must
never fail a request.

These headers are whatever the caller sent. Set them at a trusted edge (gateway, BFF)
or map only headers your own front end controls; they attribute cost, they do not
authenticate anyone.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from llmledger.instrumentation.attribution import (
    FIELD_ATTRIBUTES,
    TAG_PREFIX,
    AttributionScope,
    validate_tag_name,
    validate_value,
)

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Header name -> attribution field. A field is one of `FIELD_ATTRIBUTES` or "tag.<name>".
DEFAULT_HEADER_MAP: Mapping[str, str] = {
    "X-App-ID": "app",
    "X-User-ID": "user",
    "X-Session-ID": "session",
    "X-Team-ID": "team",
    "X-Feature": "feature",
    "X-Tenant-ID": "tenant",
}


def attribute_key_for(field: str) -> str:
    """The span attribute a header-map field names; raises ValueError for an unknown field."""
    if field in FIELD_ATTRIBUTES:
        return FIELD_ATTRIBUTES[field]
    if field.startswith("tag."):
        return TAG_PREFIX + validate_tag_name(field[len("tag.") :])
    known = ", ".join(sorted(FIELD_ATTRIBUTES))
    raise ValueError(f"unknown attribution field {field!r} in header_map; use one of {known} or 'tag.<name>'")


class AttributionMiddleware:
    """Pure ASGI middleware: sets attribution from request headers for the request's lifetime."""

    def __init__(self, app: ASGIApp, header_map: Mapping[str, str] | None = None) -> None:
        self.app = app
        header_map = DEFAULT_HEADER_MAP if header_map is None else header_map
        # ASGI header names arrive lower-cased as bytes.
        self._keys_by_header: dict[bytes, tuple[str, str]] = {}
        for header, field in header_map.items():
            if not isinstance(header, str) or not header.strip():
                raise ValueError(f"header_map has an invalid header name {header!r}")
            self._keys_by_header[header.strip().lower().encode("latin-1")] = (header, attribute_key_for(field))
        self._warned_headers: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        entries = self._entries_from(scope.get("headers") or ())
        if not entries:
            await self.app(scope, receive, send)
            return
        with AttributionScope(entries):
            await self.app(scope, receive, send)

    def _entries_from(self, headers: Any) -> dict[str, str]:
        entries: dict[str, str] = {}
        for raw_name, raw_value in headers:
            mapped = self._keys_by_header.get(raw_name.lower())
            if mapped is None:
                continue
            header, key = mapped
            if key in entries:
                continue  # the first occurrence of a repeated header wins
            try:
                entries[key] = validate_value(header, raw_value.decode("latin-1").strip())
            except (TypeError, ValueError) as error:
                self._log_ignored(header, error)
        return entries

    def _log_ignored(self, header: str, error: Exception) -> None:
        # Once per header at WARNING, so a misbehaving client cannot flood the log.
        level = logging.DEBUG if header in self._warned_headers else logging.WARNING
        self._warned_headers.add(header)
        logger.log(level, "ignoring header %s for attribution: %s", header, error)
