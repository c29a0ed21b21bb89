"""What a budget is: a limit on what one scope of LLM calls may cost in a time window."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..notify import Channel

# The call attribute each scope compares with; "tag:<name>" compares the tag <name>.
SCOPES = ("app", "team", "user", "model", "provider", "environment", "feature", "tenant", "all")
TAG_SCOPE_PREFIX = "tag:"
CALENDAR_WINDOWS = ("daily", "weekly", "monthly")
WINDOWS = CALENDAR_WINDOWS + ("rolling",)

MONEY_PLACES = Decimal("0.000000000001")  # Decimal(38, 12), as costs are stored


@dataclass(frozen=True)
class Window:
    """A calendar day, ISO week (from Monday) or month in `timezone`, or the last
    `rolling_seconds` (a rolling window never resets: old spend slides out of it)."""

    kind: str
    timezone: str = "UTC"
    rolling_seconds: int = 0

    @property
    def is_rolling(self) -> bool:
        return self.kind == "rolling"

    def describe(self) -> str:
        if self.is_rolling:
            return f"rolling {format_duration(self.rolling_seconds)}"
        return self.kind if self.timezone == "UTC" else f"{self.kind} ({self.timezone})"


@dataclass(frozen=True)
class Budget:
    id: str
    scope: str  # one of SCOPES, or "tag:<name>"
    value: str  # what the scope must equal; "" for "all"
    window: Window
    limit: Decimal
    # Counts only this tenant's calls; "" counts every tenant's (a scope "tenant" budget is
    # one tenant's already and takes no qualifier).
    tenant: str = ""
    thresholds: tuple[Decimal, ...] = (Decimal("0.8"), Decimal("1"))
    hard: bool = True  # throttle (or degrade) at the limit; a soft budget only alerts
    fallback_model: str = ""  # when hard: answer "degrade" to this model instead of "deny"
    channels: tuple[Channel, ...] = ()
    description: str = ""

    @property
    def tag_name(self) -> str:
        return self.scope[len(TAG_SCOPE_PREFIX):] if self.scope.startswith(TAG_SCOPE_PREFIX) else ""

    @property
    def tenant_of(self) -> str:
        """The one tenant whose calls this budget counts, or "" when it spans tenants."""
        return self.value if self.scope == "tenant" else self.tenant

    def call_filters(self) -> dict[str, str]:
        """What a call must have to count, as analytics dimensions: {"user": "u1", "tenant": "acme"}."""
        filters = {} if self.scope == "all" else {self.scope: self.value}
        if self.tenant:
            filters["tenant"] = self.tenant
        return filters

    def describe_scope(self) -> str:
        scope = "all calls" if self.scope == "all" else f"{self.scope}={self.value}"
        return f"{scope} of tenant {self.tenant}" if self.tenant else scope

    def counts_like(self, other: Budget) -> bool:
        """True when both count the same calls over the same window, so spend carries over."""
        return ((self.scope, self.value, self.tenant, self.window)
                == (other.scope, other.value, other.tenant, other.window))

    def to_dict(self) -> dict[str, Any]:
        """The budget in the budget file's full form, JSON-safe (amounts as exact text)."""
        entry: dict[str, Any] = {"id": self.id, "scope": self.scope}
        if self.scope != "all":
            entry["value"] = self.value
        if self.tenant:
            entry["tenant"] = self.tenant
        entry["window"] = self.window.kind
        if self.window.is_rolling:
            entry["duration"] = format_duration(self.window.rolling_seconds)
        else:
            entry["timezone"] = self.window.timezone
        entry["limit"] = money_text(self.limit)
        entry["thresholds"] = [money_text(t) for t in self.thresholds]
        entry["hard"] = self.hard
        if self.fallback_model:
            entry["fallback_model"] = self.fallback_model
        if self.channels:
            entry["notification_channels"] = [c.to_dict() for c in self.channels]
        if self.description:
            entry["description"] = self.description
        return entry


def money_text(amount: Decimal) -> str:
    """Exact, without trailing zeros: 500, 0.25, 0.000195."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "") else text


def format_duration(seconds: int) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
