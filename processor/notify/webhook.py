"""Generic webhook: the alert as a JSON document, POSTed to a URL.

With `secret_env` set, every request is signed so that the receiver can tell it came from
llmledger and was not replayed later:

    X-Llmledger-Timestamp: <unix seconds>
    X-Llmledger-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>

The receiver recomputes the HMAC over the raw body, compares in constant time, and rejects
timestamps far from its own clock. `X-Llmledger-Alert-Key` carries the alert's dedup key.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Mapping

from .base import (Alert, PermanentError, SendSettings, reject_unknown_keys, require_env_name,
                   require_url)
from .http_post import host_of, post_json

SIGNATURE_HEADER = "X-Llmledger-Signature"
TIMESTAMP_HEADER = "X-Llmledger-Timestamp"
ALERT_KEY_HEADER = "X-Llmledger-Alert-Key"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_document(alert: Alert) -> dict[str, Any]:
    document = {"key": alert.key, "kind": alert.kind, "severity": alert.severity, "title": alert.title,
                "summary": alert.summary, **alert.payload}
    if alert.link:
        document["link"] = alert.link
    return document


@dataclass(frozen=True)
class WebhookChannel:
    url: str
    secret_env: str = ""

    type = "webhook"
    KEYS = ("type", "url", "secret_env")

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> WebhookChannel:
        reject_unknown_keys(config, cls.KEYS)
        return cls(url=require_url(config, "url"), secret_env=require_env_name(config, "secret_env"))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "url": self.url, **({"secret_env": self.secret_env} if self.secret_env else {})}

    def target(self) -> str:
        return host_of(self.url)

    def send(self, alert: Alert, settings: SendSettings) -> str:
        body = json.dumps(webhook_document(alert), ensure_ascii=False, sort_keys=True).encode()
        headers = {ALERT_KEY_HEADER: alert.key}
        if self.secret_env:
            secret = settings.environ.get(self.secret_env)
            if not secret:
                raise PermanentError(f"the webhook secret variable {self.secret_env} is not set")
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(secret.encode(), timestamp, body)
        return post_json(self.url, body, headers, settings.timeout)
