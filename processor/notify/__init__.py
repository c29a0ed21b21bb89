"""Notifications: alerts and reports delivered to webhooks, Slack and email, with retries, a
delivery log, and an outbox that claims each message once across replicas (outbox.py).

    notifier = Notifier(smtp=SmtpSettings(host="mail.example.com", username="alerts"))
    results = notifier.deliver([(alert, [parse_channel({"type": "slack", "webhook": url})])])
"""
from .base import Alert, ChannelConfigError, InlineImage, PermanentError, TransientError
from .channels import Channel, channel_id, parse_channel
from .notifier import DeliveryAttempt, DeliveryResult, Notifier
from .slack import SlackChannel, slack_message
from .smtp import EmailChannel, SmtpSettings
from .webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookChannel, sign

__all__ = [
    "Alert", "Channel", "ChannelConfigError", "DeliveryAttempt", "DeliveryResult", "EmailChannel", "InlineImage",
    "Notifier", "PermanentError", "SIGNATURE_HEADER", "SlackChannel", "SmtpSettings", "TIMESTAMP_HEADER",
    "TransientError", "WebhookChannel", "channel_id", "parse_channel", "sign", "slack_message",
]
