"""The message a budget sends when its spend crosses alert thresholds."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from ..notify import Alert
from .model import Budget, money_text
from .status import BudgetStatus, iso
from .windows import zone


# The kinds of message the budget service claims in the outbox (notify/outbox.py) and delivers.
ALERT_KINDS = ("budget_threshold", "anomaly")


def alert_key(budget_id: str, period_start: int, threshold: Decimal) -> str:
    """The dedup key: each threshold alerts once per window per budget."""
    return f"{budget_id}|{iso(period_start)}|{money_text(threshold)}"


def budget_alert(status: BudgetStatus, crossed: list[Decimal], key: str) -> Alert:
    """One message for the thresholds crossed since the last evaluation (the highest first)."""
    budget = status.budget
    highest = max(crossed)
    percent = f"{status.percent.normalize():f}"
    title = f"Budget {budget.id} at {percent}% of {_usd(budget.limit)}"
    summary = (f"{budget.describe_scope()} has spent {_usd(status.spend)} of its {budget.window.describe()} "
               f"budget of {_usd(budget.limit)}, crossing {_percentages(crossed)}.")
    if status.projected_breach_at is not None:
        summary += f" At this pace it reaches the limit at {_local(status.projected_breach_at, budget)}."
    if status.exceeded and budget.hard:
        summary += (f" Calls now degrade to {budget.fallback_model}." if budget.fallback_model
                    else " Calls are now refused until the window resets.")
    fields = [("Budget", budget.id), ("Scope", budget.describe_scope()), ("Spend", _usd(status.spend)),
              ("Limit", _usd(budget.limit)), ("Remaining", _usd(status.remaining)),
              ("Window", _window_text(status))]
    if status.projected_spend is not None:
        fields.append(("Projected by window end", _usd(status.projected_spend)))
    if status.projected_breach_at is not None:
        fields.append(("Projected breach", _local(status.projected_breach_at, budget)))
    payload = {"budget": {key_: value for key_, value in budget.to_dict().items() if key_ != "notification_channels"},
               "status": status.to_dict(), "threshold": money_text(highest),
               "thresholds_crossed": [money_text(t) for t in sorted(crossed, reverse=True)]}
    severity = "critical" if highest >= 1 else "warning" if highest >= Decimal("0.8") else "info"
    return Alert(key=key, kind="budget_threshold", title=title, summary=summary, severity=severity,
                 fields=tuple(fields), payload=payload)


def thresholds_of(alert: Alert) -> tuple[Decimal, ...]:
    """The thresholds a budget alert announces (none for an anomaly)."""
    return tuple(Decimal(t) for t in alert.payload.get("thresholds_crossed", ()))


def _usd(amount: Decimal) -> str:
    if abs(amount) >= Decimal("0.01") or amount == 0:
        return f"${amount.quantize(Decimal('0.01')):,}"
    return f"${money_text(amount)}"  # a fraction of a cent stays visible


def _percentages(thresholds: list[Decimal]) -> str:
    return ", ".join(f"{(t * 100).normalize():f}%" for t in sorted(thresholds, reverse=True))


def _local(seconds: int, budget: Budget) -> str:
    return datetime.fromtimestamp(seconds, zone(budget.window.timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _window_text(status: BudgetStatus) -> str:
    start = _local(status.window_start, status.budget)
    if status.window_end is None:
        return f"{status.budget.window.describe()} (since {start})"
    return f"{start} to {_local(status.window_end, status.budget)}"


def anomaly_alert(anomaly) -> Alert:
    """The alert for an anomaly of `llmledger.processor.analytics` (any object with its fields).
    The key names the anomaly itself, so it alerts once however often detection runs:

        BudgetService(..., anomalies=lambda: [anomaly_alert(a) for a in find_anomalies(run, start, end)])
    """
    moment = anomaly.at.astimezone(timezone.utc) if anomaly.at.tzinfo else anomaly.at  # naive means UTC
    at = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = " / ".join(part for part in (anomaly.app, anomaly.model) if part) or "all calls"
    kind = anomaly.kind.replace("_", " ")
    fields = [("Observed", _usd(anomaly.observed)), ("Baseline", _usd(anomaly.baseline))]
    if anomaly.threshold is not None:
        fields.append(("Threshold", _usd(anomaly.threshold)))
    fields += [("Score", f"{anomaly.score:.1f}"), ("Requests", str(anomaly.requests)), ("At", at)]
    if anomaly.trace_ids:
        fields.append(("Example traces", ", ".join(anomaly.trace_ids[:5])))
    payload = {"anomaly": {"kind": anomaly.kind, "app": anomaly.app, "model": anomaly.model, "at": at,
                           "observed": money_text(anomaly.observed), "baseline": money_text(anomaly.baseline),
                           "threshold": None if anomaly.threshold is None else money_text(anomaly.threshold),
                           "score": anomaly.score, "requests": anomaly.requests,
                           "baseline_samples": anomaly.baseline_samples, "trace_ids": list(anomaly.trace_ids)}}
    return Alert(key=f"anomaly|{anomaly.kind}|{anomaly.app}|{anomaly.model}|{at}", kind="anomaly",
                 title=f"Anomaly: {kind} on {subject}", summary=anomaly.description, severity="warning",
                 fields=tuple(fields), payload=payload)
