"""POSTing a JSON document, with the answer sorted into retryable and permanent failures."""
from __future__ import annotations

import urllib.error
import urllib.request
from typing import Mapping
from urllib.parse import urlsplit

from .base import PermanentError, TransientError

_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> str:
    """Send `body` and return a short status such as "HTTP 200"; raise on failure."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(4096)  # let the receiver finish; the body itself does not matter
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        detail = f"HTTP {exc.code}: {_short(exc.read(512))}"
        if exc.code in _RETRYABLE_STATUS:
            raise TransientError(detail, retry_after=_retry_after(exc.headers.get("Retry-After"))) from None
        raise PermanentError(detail) from None
    except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out, DNS
        reason = getattr(exc, "reason", exc)
        raise TransientError(f"cannot reach {host_of(url)}: {reason}") from None


def host_of(url: str) -> str:
    """The part of a URL that is safe to log: a webhook's path and query often hold its secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def _short(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").strip().replace("\n", " ")[:200]


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date; the backoff will do
