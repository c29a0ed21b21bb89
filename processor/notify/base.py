"""What every notification channel shares: the alert it sends, how it fails, its settings.

A channel's `send` raises `TransientError` for failures worth retrying (connection
refused, timeouts, HTTP 429/5xx, SMTP 4xx) and `PermanentError` for the others (HTTP 4xx,
SMTP 5xx, a missing secret): retrying those would only repeat the failure.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Mapping


class TransientError(Exception):
    """Delivery failed in a way that may succeed later; `retry_after` is the receiver's hint."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Delivery failed in a way that retrying will not fix."""


class ChannelConfigError(ValueError):
    """A channel's configuration is wrong; `key` names the offending key ("" for the whole channel)."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


@dataclass(frozen=True)
class InlineImage:
    """An image an HTML body shows as `<img src="cid:{cid}">`: sent inside the email itself
    (multipart/related), so mail clients show it without fetching anything."""

    cid: str
    mime: str  # image/png or image/svg+xml
    data: bytes
    filename: str = ""


@dataclass(frozen=True)
class Alert:
    """One message to send, rendered by each channel in its own format.

    `key` is the message's dedup key: receivers can use it (webhook header, email header) to
    drop a repeat of their own. `fields` are label/value pairs for Slack fields and email
    lines; `payload` is the JSON document a webhook receives. A report also has an `html`
    body for email (with its `images`) and a `link` to read more in the built-in pages."""

    key: str
    kind: str  # "budget_threshold", "anomaly" or "report"
    title: str
    summary: str
    severity: str = "warning"  # "info", "warning" or "critical"
    fields: tuple[tuple[str, str], ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)
    html: str = ""
    images: tuple[InlineImage, ...] = ()
    link: str = ""

    def to_json(self) -> str:
        """The message as the store keeps it until every channel has it."""
        data = {"key": self.key, "kind": self.kind, "title": self.title, "summary": self.summary,
                "severity": self.severity, "fields": [list(f) for f in self.fields], "payload": self.payload}
        if self.html:
            data["html"] = self.html
        if self.images:
            data["images"] = [{"cid": i.cid, "mime": i.mime, "filename": i.filename,
                               "data": base64.b64encode(i.data).decode()} for i in self.images]
        if self.link:
            data["link"] = self.link
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Alert:
        data = json.loads(text)
        images = tuple(InlineImage(cid=i["cid"], mime=i["mime"], data=base64.b64decode(i["data"]),
                                   filename=i.get("filename", "")) for i in data.get("images", ()))
        return cls(key=data["key"], kind=data["kind"], title=data["title"], summary=data["summary"],
                   severity=data["severity"], fields=tuple((label, value) for label, value in data["fields"]),
                   payload=data["payload"], html=data.get("html", ""), images=images, link=data.get("link", ""))


@dataclass(frozen=True)
class SendSettings:
    """What the notifier gives every send: the timeout, where secrets are looked up, and the
    SMTP server that email channels use unless they name their own (an `SmtpSettings`)."""

    timeout: float = 10.0
    environ: Mapping[str, str] = field(default_factory=dict)
    smtp: Any = None


def require_text(config: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = config.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ChannelConfigError(key, "must be a non-empty string" if key in config else "is required")
    return value.strip()


def require_url(config: Mapping[str, Any], key: str) -> str:
    url = require_text(config, key)
    if not url.startswith(("http://", "https://")):
        raise ChannelConfigError(key, f"must be an http:// or https:// URL, got {url!r}")
    return url


def require_env_name(config: Mapping[str, Any], key: str) -> str:
    """Secrets are named by environment variable so that they never land in the store."""
    name = require_text(config, key, required=False)
    if name and not name.replace("_", "").isalnum():
        raise ChannelConfigError(key, f"must name an environment variable, got {name!r}")
    return name


def reject_unknown_keys(config: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for key in config:
        if key not in known:
            hint = ""
            if key in ("secret", "password"):
                hint = f"; put it in an environment variable and give its name as {key}_env"
            raise ChannelConfigError(str(key), f"unknown key (expected one of: {', '.join(known)}){hint}")
