"""Turning a channel's configuration (a mapping from the budget file or the store) into a channel."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Union

from .base import ChannelConfigError
from .slack import SlackChannel
from .smtp import EmailChannel
from .webhook import WebhookChannel

Channel = Union[WebhookChannel, SlackChannel, EmailChannel]

CHANNEL_TYPES: dict[str, Any] = {"webhook": WebhookChannel, "slack": SlackChannel, "email": EmailChannel}


def parse_channel(config: Any) -> Channel:
    """Raises ChannelConfigError naming the key that is wrong."""
    if not isinstance(config, Mapping):
        raise ChannelConfigError("", "a channel must be a mapping with a type (webhook, slack or email)")
    kind = config.get("type")
    if kind not in CHANNEL_TYPES:
        raise ChannelConfigError("type", f"must be one of: {', '.join(CHANNEL_TYPES)}"
                                 if "type" in config else "is required (webhook, slack or email)")
    return CHANNEL_TYPES[kind].parse(config)


def channel_id(channel: Channel) -> str:
    """Tells apart two channels of one type and host; a hash, since the configuration may hold
    a secret (a Slack webhook's path)."""
    text = json.dumps(channel.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
