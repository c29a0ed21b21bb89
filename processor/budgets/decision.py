"""The throttle's answer for one call: allow, deny until the window resets, or degrade."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable

from .model import Budget, money_text
from .spend import BudgetTracker


@dataclass(frozen=True)
class Decision:
    action: str  # "allow", "deny" or "degrade"
    budget_id: str = ""  # the budget that decided; for "allow", the one with the least left
    scope: str = ""
    scope_value: str = ""
    tenant: str = ""  # the deciding budget's tenant qualifier
    window: str = ""
    limit: Decimal | None = None
    spend: Decimal | None = None
    remaining: Decimal | None = None
    retry_after: int | None = None  # seconds until the budget allows the call again
    fallback_model: str = ""  # for "degrade": the model to call instead

    @property
    def allowed(self) -> bool:
        return self.action != "deny"

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"decision": self.action, "allowed": self.allowed}
        if self.budget_id:
            body.update(budget_id=self.budget_id, scope=self.scope, scope_value=self.scope_value)
            if self.tenant:
                body["tenant"] = self.tenant
            body.update(window=self.window, limit=money_text(self.limit), spend=money_text(self.spend),
                        remaining=money_text(self.remaining))
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        if self.fallback_model:
            body["fallback_model"] = self.fallback_model
        return body


ALLOW = Decision("allow")


def decide(trackers: Iterable[BudgetTracker], now: float,
           shown: Callable[[Budget], bool] | None = None) -> Decision:
    """Deny if any hard budget without a fallback is spent (the one that resets last decides);
    else degrade if a spent one names a fallback model; else allow, naming the budget with the
    least left among those `shown` (all by default)."""
    deny = degrade = tightest = None
    for tracker in trackers:
        budget = tracker.budget
        spend = tracker.spend(now)
        if spend >= budget.limit:
            retry = tracker.seconds_until_below_limit(now)
            decision = _decision("degrade" if budget.fallback_model else "deny", tracker, spend, retry)
            if budget.fallback_model:
                degrade = _later(degrade, decision)
            else:
                deny = _later(deny, decision)
        elif (shown is None or shown(budget)) and (tightest is None or budget.limit - spend < tightest.remaining):
            tightest = _decision("allow", tracker, spend, None)
    return deny or degrade or tightest or ALLOW


def _decision(action: str, tracker: BudgetTracker, spend: Decimal, retry_after: int | None) -> Decision:
    budget = tracker.budget
    return Decision(action, budget.id, budget.scope, budget.value, budget.tenant, budget.window.describe(),
                    budget.limit, spend, max(budget.limit - spend, Decimal(0)), retry_after,
                    budget.fallback_model if action == "degrade" else "")


def _later(current: Decision | None, candidate: Decision) -> Decision:
    if current is None or (candidate.retry_after or 0) > (current.retry_after or 0):
        return candidate
    return current
