"""`server_of(url)`: the `server.address` and `server.port` of a base URL.

An app talks to a handful of base URLs, so each is parsed once (the port defaults
to the scheme's: 80 for http, else 443)."""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit


@lru_cache(maxsize=256)
def server_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (80 if parts.scheme == "http" else 443)
