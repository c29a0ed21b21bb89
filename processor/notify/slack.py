"""Slack incoming webhook: the alert as a Block Kit message (header, summary, fields, link).

An incoming webhook cannot carry images: a report sends its headline and a link to the pages."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from .base import Alert, SendSettings, reject_unknown_keys, require_url
from .http_post import host_of, post_json

_ICONS = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}
_MAX_FIELDS = 10  # Slack refuses a section with more
_MAX_TEXT = 3000  # nor a text longer than this
_LINK_TEXT = "Open in llmledger"


def slack_message(alert: Alert) -> dict[str, Any]:
    icon = _ICONS.get(alert.severity, "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} {alert.summary}".strip()[:_MAX_TEXT]}},
    ]
    if alert.fields:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in alert.fields[:_MAX_FIELDS]]})
    if alert.link:  # a plain link: a button would want the Slack app to acknowledge its clicks
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{alert.link}|{_LINK_TEXT}>"}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"llmledger · `{alert.key}`"}]})
    # `text` is what notifications and clients without Block Kit show.
    text = f"{alert.title}: {alert.summary}" + (f" {alert.link}" if alert.link else "")
    return {"text": text, "blocks": blocks}


@dataclass(frozen=True)
class SlackChannel:
    webhook: str

    type = "slack"
    KEYS = ("type", "webhook")

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> SlackChannel:
        reject_unknown_keys(config, cls.KEYS)
        return cls(webhook=require_url(config, "webhook"))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "webhook": self.webhook}

    def target(self) -> str:
        return host_of(self.webhook)

    def send(self, alert: Alert, settings: SendSettings) -> str:
        body = json.dumps(slack_message(alert), ensure_ascii=False).encode()
        return post_json(self.webhook, body, {}, settings.timeout)
