"""How sensitive anomaly detection is, with defaults meant to page nobody for small change."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal


def _check(settings, *, money: tuple[str, ...], counts: tuple[str, ...]) -> None:
    """Money and multipliers must be exact (Decimal, int or numeric text, never float) and
    not negative; counts must be positive whole numbers. Text is turned into Decimal."""
    name = type(settings).__name__
    for key in money:
        value = getattr(settings, key)
        if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
            raise ValueError(f"{name}.{key}: expected a Decimal (not {type(value).__name__}), got {value!r}")
        try:
            exact = Decimal(value)
        except ArithmeticError:
            raise ValueError(f"{name}.{key}: not a number: {value!r}") from None
        if not exact.is_finite() or exact < 0:
            raise ValueError(f"{name}.{key}: must be a finite amount of 0 or more, got {value!r}")
        object.__setattr__(settings, key, exact)
    for key in counts:
        value = getattr(settings, key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}.{key}: must be a positive whole number, got {value!r}")


@dataclass(frozen=True)
class RequestOutlierSettings:
    """A call is an outlier when it costs more than `multiplier` x the p95 cost of its
    app/model over the `baseline_days` days before its own day."""

    multiplier: Decimal = Decimal(10)
    baseline_days: int = 7
    min_samples: int = 50  # priced calls the p95 is taken over, at least
    min_cost: Decimal = Decimal("0.01")  # cheaper calls are never reported

    def __post_init__(self):
        _check(self, money=("multiplier", "min_cost"), counts=("baseline_days", "min_samples"))


@dataclass(frozen=True)
class SpikeSettings:
    """An app/model's spend in a bucket is a spike when it is above the Tukey fence
    Q3 + fence_multiplier x IQR of the `baseline_buckets` buckets before it."""

    baseline_buckets: int
    min_spend: Decimal  # less spend in a bucket is never reported
    min_requests: int  # nor fewer calls
    min_active_buckets: int  # trailing buckets with spend needed to judge at all
    fence_multiplier: Decimal = Decimal(3)  # Tukey's "far out"

    def __post_init__(self):
        _check(self, money=("min_spend", "fence_multiplier"),
               counts=("baseline_buckets", "min_requests", "min_active_buckets"))
        if self.min_active_buckets > self.baseline_buckets:
            raise ValueError(f"SpikeSettings.min_active_buckets ({self.min_active_buckets}) cannot exceed "
                             f"baseline_buckets ({self.baseline_buckets})")


@dataclass(frozen=True)
class NewArrivalSettings:
    """An app or model is new when it has calls in the window and none in the
    `baseline_days` days before it."""

    baseline_days: int = 30
    min_requests: int = 1

    def __post_init__(self):
        _check(self, money=(), counts=("baseline_days", "min_requests"))


def _hourly() -> SpikeSettings:
    return SpikeSettings(baseline_buckets=7 * 24, min_spend=Decimal(1), min_requests=10, min_active_buckets=24)


def _daily() -> SpikeSettings:
    return SpikeSettings(baseline_buckets=28, min_spend=Decimal(10), min_requests=50, min_active_buckets=7)


@dataclass(frozen=True)
class AnomalySettings:
    requests: RequestOutlierSettings = field(default_factory=RequestOutlierSettings)
    hourly: SpikeSettings = field(default_factory=_hourly)
    daily: SpikeSettings = field(default_factory=_daily)
    new_arrivals: NewArrivalSettings = field(default_factory=NewArrivalSettings)
    examples: int = 3  # example trace ids per anomaly
    max_per_kind: int = 100

    def __post_init__(self):
        expected = {"requests": RequestOutlierSettings, "hourly": SpikeSettings, "daily": SpikeSettings,
                    "new_arrivals": NewArrivalSettings}
        for item in fields(self):
            kind = expected.get(item.name)
            if kind and not isinstance(getattr(self, item.name), kind):
                raise ValueError(f"AnomalySettings.{item.name}: expected {kind.__name__}")
        _check(self, money=(), counts=("examples", "max_per_kind"))
