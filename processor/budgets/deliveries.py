"""What budget alerts add to the outbox (notify/outbox.py), which delivers them."""
from __future__ import annotations

from decimal import Decimal

from ..notify import Alert

# The kinds of message the budget service claims and delivers.
ALERT_KINDS = ("budget_threshold", "anomaly")


def thresholds_of(alert: Alert) -> tuple[Decimal, ...]:
    """The thresholds a budget alert announces (none for an anomaly)."""
    return tuple(Decimal(t) for t in alert.payload.get("thresholds_crossed", ()))
