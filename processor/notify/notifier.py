"""Delivering alerts: every channel in its own thread, each with a few attempts in a row.

A slow or failing channel never holds up the others, and every attempt is reported to a
delivery log callback (the budget service writes it to `notification_deliveries`). These
attempts, seconds apart, ride out a blip; a delivery that still fails is tried again in a
later round, minutes apart, by the outbox (outbox.py).
"""
from __future__ import annotations

import logging
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from .base import Alert, PermanentError, SendSettings, TransientError
from .channels import Channel, channel_id
from .smtp import SmtpSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryAttempt:
    """One try to send one alert to one channel; `final` marks the last try of this delivery."""

    alert_key: str
    channel: str
    target: str
    attempt: int
    ok: bool
    final: bool
    status: str
    error: str
    attempted_at: float
    channel_id: str = ""


@dataclass(frozen=True)
class DeliveryResult:
    alert_key: str
    channel: str
    target: str
    ok: bool
    attempts: int
    status: str
    error: str
    channel_id: str = ""


DeliveryLog = Callable[[DeliveryAttempt], None]


class Notifier:
    """Sends alerts. `attempts` tries per channel, waiting `backoff_seconds` × 2ⁿ (±20 %, at most
    `max_backoff_seconds`, longer when the receiver asks with Retry-After) between them."""

    def __init__(self, *, smtp: SmtpSettings | None = None, environ: Mapping[str, str] | None = None,
                 attempts: int = 3, backoff_seconds: float = 1.0, max_backoff_seconds: float = 30.0,
                 timeout: float = 10.0, sleep: Callable[[float], None] = time.sleep):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.environ = os.environ if environ is None else environ
        self.smtp = smtp if smtp is not None else SmtpSettings.from_environment(self.environ)
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.timeout = timeout
        self._sleep = sleep

    def deliver(self, deliveries: Sequence[tuple[Alert, Sequence[Channel]]],
                delivery_log: DeliveryLog | None = None) -> list[DeliveryResult]:
        """Send each alert to each of its channels, all at once; returns when every send has
        succeeded or run out of attempts. Never raises for a failed delivery."""
        jobs = [(alert, channel) for alert, channels in deliveries for channel in channels]
        if not jobs:
            return []
        settings = SendSettings(timeout=self.timeout, environ=self.environ, smtp=self.smtp)
        with ThreadPoolExecutor(max_workers=min(len(jobs), 16), thread_name_prefix="llmledger-notify") as pool:
            futures = [pool.submit(self._send_with_retries, alert, channel, settings, delivery_log)
                       for alert, channel in jobs]
            return [future.result() for future in futures]

    def _send_with_retries(self, alert: Alert, channel: Channel, settings: SendSettings,
                           delivery_log: DeliveryLog | None) -> DeliveryResult:
        status, error = "", ""
        for attempt in range(1, self.attempts + 1):
            started = time.time()
            retry_after = None
            try:
                status = channel.send(alert, settings)
                ok, error, final = True, "", True
            except TransientError as exc:
                ok, error, final = False, str(exc), attempt == self.attempts
                retry_after = exc.retry_after
            except PermanentError as exc:
                ok, error, final = False, str(exc), True
            except Exception as exc:  # a bug in a channel must not stop the other channels
                log.exception("channel %s failed unexpectedly", channel.type)
                ok, error, final = False, f"{type(exc).__name__}: {exc}", True
            _record(delivery_log, DeliveryAttempt(alert.key, channel.type, channel.target(), attempt, ok, final,
                                                  status if ok else "", error, started, channel_id(channel)))
            if final:
                if not ok:
                    log.warning("could not deliver alert %s to %s %s: %s", alert.key, channel.type,
                                channel.target(), error)
                return DeliveryResult(alert.key, channel.type, channel.target(), ok, attempt,
                                      status if ok else "", error, channel_id(channel))
            self._sleep(self._delay(attempt, retry_after))
        raise AssertionError("unreachable: the last attempt is final")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = self.backoff_seconds * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.max_backoff_seconds)


def _record(delivery_log: DeliveryLog | None, attempt: DeliveryAttempt) -> None:
    if delivery_log is None:
        return
    try:
        delivery_log(attempt)
    except Exception:  # the log is a record; losing a row must not lose the message
        log.warning("could not record the delivery of alert %s", attempt.alert_key, exc_info=True)
