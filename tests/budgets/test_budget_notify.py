"""Notification channels against local receivers: webhook (signed), Slack Block Kit, SMTP with
STARTTLS and login; retries with backoff, and which failures are not retried."""
from __future__ import annotations

import email
import hashlib
import hmac
import json

import pytest

from budget_harness import SMTP_PASSWORD_ENV
from llmledger.processor.notify import Alert, Notifier, parse_channel

ALERT = Alert(key="chat-daily|2026-03-01T00:00:00Z|0.8", kind="budget_threshold",
              title="Budget chat-daily at 90% of $10.00", summary="app=chat has spent $9.00 of $10.00.",
              severity="warning", fields=(("Spend", "$9.00"), ("Limit", "$10.00")),
              payload={"threshold": "0.8"})


class RecordedSleep:
    def __init__(self):
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _deliver(notifier: Notifier, channel: dict):
    attempts = []
    [result] = notifier.deliver([(ALERT, [parse_channel(channel)])], delivery_log=attempts.append)
    return result, attempts


def test_webhook_posts_the_alert_as_json_signed_with_hmac_sha256(webhook):
    notifier = Notifier(environ={"HOOK_SECRET": "k3y"})
    result, _ = _deliver(notifier, {"type": "webhook", "url": webhook.url + "/in", "secret_env": "HOOK_SECRET"})
    assert (result.ok, result.status) == (True, "HTTP 200")
    [request] = webhook.requests
    document = json.loads(request["body"])
    assert document == {"key": ALERT.key, "kind": "budget_threshold", "severity": "warning", "title": ALERT.title,
                        "summary": ALERT.summary, "threshold": "0.8"}
    signed = request["headers"]["X-Llmledger-Timestamp"].encode() + b"." + request["body"]
    assert request["headers"]["X-Llmledger-Signature"] == (
        "sha256=" + hmac.new(b"k3y", signed, hashlib.sha256).hexdigest())


def test_webhook_without_a_secret_is_not_signed_and_a_missing_secret_is_an_error(webhook):
    result, _ = _deliver(Notifier(environ={}), {"type": "webhook", "url": webhook.url})
    assert result.ok and "X-Llmledger-Signature" not in webhook.requests[0]["headers"]
    result, attempts = _deliver(Notifier(environ={}), {"type": "webhook", "url": webhook.url,
                                                       "secret_env": "NOT_SET_ANYWHERE"})
    assert (result.ok, result.attempts) == (False, 1)
    assert "NOT_SET_ANYWHERE is not set" in result.error and len(webhook.requests) == 1


def test_slack_gets_a_block_kit_message(webhook):
    result, _ = _deliver(Notifier(), {"type": "slack", "webhook": webhook.url + "/services/T0/B0/xyz"})
    assert result.ok and result.target == webhook.url  # the secret path is not logged
    message = json.loads(webhook.requests[0]["body"])
    assert message["text"] == f"{ALERT.title}: {ALERT.summary}"
    header, summary, fields, context = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": ALERT.title, "emoji": True}}
    assert summary["type"] == "section" and summary["text"]["text"] == f":warning: {ALERT.summary}"
    assert fields["fields"] == [{"type": "mrkdwn", "text": "*Spend*\n$9.00"},
                                {"type": "mrkdwn", "text": "*Limit*\n$10.00"}]
    assert ALERT.key in context["elements"][0]["text"]


def test_email_goes_through_starttls_and_login(mailbox):
    notifier = Notifier()
    result, _ = _deliver(notifier, mailbox.channel("ops@example.com", "cfo@example.com"))
    assert (result.ok, result.status) == (True, "SMTP 250, 2 of 2 recipients accepted")
    [received] = mailbox.messages
    assert received["tls"] and received["authenticated"]
    assert (received["from"], received["to"]) == ("llmledger@example.com", ["ops@example.com", "cfo@example.com"])
    message = email.message_from_bytes(received["content"])
    assert message["Subject"] == f"[llmledger] {ALERT.title}"
    assert message["X-Llmledger-Alert-Key"] == ALERT.key
    body = message.get_payload(decode=True).decode()
    assert ALERT.summary in body and "Spend: $9.00" in body


def test_email_uses_the_notifiers_smtp_server_when_the_channel_names_none(mailbox):
    from llmledger.processor.notify import SmtpSettings

    smtp = SmtpSettings.parse({key: value for key, value in mailbox.channel()["smtp"].items()})
    result, _ = _deliver(Notifier(smtp=smtp), {"type": "email", "recipients": ["ops@example.com"]})
    assert result.ok and len(mailbox.messages) == 1


def test_a_wrong_smtp_password_is_not_retried(mailbox, monkeypatch):
    monkeypatch.setenv(SMTP_PASSWORD_ENV, "wrong")
    result, attempts = _deliver(Notifier(sleep=RecordedSleep()), mailbox.channel())
    assert (result.ok, result.attempts) == (False, 1)
    assert result.error.startswith("SMTP 535")
    assert mailbox.messages == []


def test_starttls_refused_by_an_untrusted_certificate(mailbox, tmp_path):
    other_ca = tmp_path / "other-ca.pem"
    import trustme

    trustme.CA().cert_pem.write_to_path(str(other_ca))
    result, _ = _deliver(Notifier(sleep=RecordedSleep()), mailbox.channel(ca_file=str(other_ca)))
    assert (result.ok, result.attempts) == (False, 1)
    assert "TLS with 127.0.0.1" in result.error and mailbox.messages == []


def test_server_errors_are_retried_with_backoff_and_logged(webhook):
    webhook.answers.extend([(503, {}), (500, {})])  # then 200
    sleep = RecordedSleep()
    result, attempts = _deliver(Notifier(backoff_seconds=1.0, sleep=sleep), {"type": "webhook", "url": webhook.url})
    assert (result.ok, result.attempts) == (True, 3)
    assert [(a.attempt, a.ok, a.final) for a in attempts] == [(1, False, False), (2, False, False), (3, True, True)]
    assert attempts[0].error.startswith("HTTP 503")
    # 1 s then 2 s, each within ±20 %.
    assert 0.8 <= sleep.delays[0] <= 1.2 and 1.6 <= sleep.delays[1] <= 2.4


def test_retry_after_is_honoured_and_client_errors_are_final(webhook):
    webhook.answers.extend([(429, {"Retry-After": "7"})])
    sleep = RecordedSleep()
    result, _ = _deliver(Notifier(backoff_seconds=0.5, sleep=sleep), {"type": "webhook", "url": webhook.url})
    assert result.ok and sleep.delays[0] >= 7

    webhook.answers.extend([(404, {})])
    result, attempts = _deliver(Notifier(sleep=sleep), {"type": "webhook", "url": webhook.url})
    assert (result.ok, result.attempts, result.error[:8]) == (False, 1, "HTTP 404")


@pytest.mark.parametrize("channel, message", [
    ({"type": "pager"}, "type: must be one of: webhook, slack, email"),
    ({"type": "webhook"}, "url: is required"),
    ({"type": "webhook", "url": "ftp://x"}, "url: must be an http:// or https:// URL"),
    ({"type": "email", "recipients": ["not an address"]}, "recipients: 'not an address' is not an email address"),
    ({"type": "email", "recipients": ["a@example.com"], "smtp": {"security": "ssl"}},
     "smtp.security: must be one of: starttls, tls, none"),
])
def test_bad_channel_configuration_names_the_key(channel, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse_channel(channel)
