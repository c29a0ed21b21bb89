"""How figures read to people: the one formatting module of the pages, the reports and the CLI.

Every function takes the exact value the analytics API hands out (Decimal money, int
tokens, nanoseconds, aware datetimes) and returns text. None means "unknown" — an
unpriced cost, an average over nothing — and always reads "n/a", never "$0.00".
Machine formats (`--format json|csv`, the CSV download) do not come through here: they
keep the exact values.
"""
from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal

NOT_AVAILABLE = "n/a"
_CENT = Decimal("0.01")
_BELOW_CENT_DIGITS = 3  # significant digits shown for amounts under a cent


def money(amount: Decimal | int | None, *, currency: str = "$") -> str:
    """$1,234.56; amounts under a cent keep three significant digits ($0.00123, $0.000195);
    zero is $0.00; None (unpriced) is n/a."""
    if amount is None:
        return NOT_AVAILABLE
    amount = Decimal(amount)
    sign = "-" if amount < 0 else ""
    size = abs(amount)
    if size == 0 or size >= _CENT:
        return f"{sign}{currency}{size.quantize(_CENT, rounding=ROUND_HALF_UP):,.2f}"
    places = -size.adjusted() - 1 + _BELOW_CENT_DIGITS  # digits after the point to keep
    shown = size.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP).normalize()
    return f"{sign}{currency}{shown:f}"


def money_of(spend) -> str:
    """The cost of a Spend (a breakdown row, a cell): n/a when every one of its calls is
    unpriced, whatever the sum of priced calls says (it is 0 then, and 0 would be a lie).
    Calls with no cost that are not unpriced (a budget refused them, or they failed before
    using anything) cost nothing."""
    if spend.requests > 0 and spend.unpriced_requests >= spend.requests:
        return NOT_AVAILABLE
    if spend.cost is None:
        return NOT_AVAILABLE if spend.unpriced_requests else money(0)
    return money(spend.cost)


def call_cost(call) -> str:
    """The cost of one call: n/a when unpriced; "refused" when a budget stopped it (never
    sent); $0.00 for a call that failed before it used anything."""
    if call.cost is not None:
        return money(call.cost)
    if call.unpriced:
        return NOT_AVAILABLE
    return "refused" if call.status == "Refused" else money(0)


def rate(amount: Decimal | None) -> str:
    """A price per 1M tokens, exact, at least to the cent: $0.15, $0.075, $2.50."""
    if amount is None:
        return NOT_AVAILABLE
    exact = Decimal(amount).normalize()
    if exact.as_tuple().exponent > -2:
        exact = exact.quantize(_CENT)
    return f"${exact:,f}"


def tokens(count: int | None) -> str:
    """12,345 (None: n/a)."""
    return NOT_AVAILABLE if count is None else f"{int(count):,}"


def number(value: int | float | Decimal | None, places: int = 0) -> str:
    """A plain figure with thousands separators, e.g. a score: 1,234 or 12.5."""
    if value is None:
        return NOT_AVAILABLE
    return f"{Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,.{places}f}"


def count(n: int, singular: str, plural: str | None = None) -> str:
    """1 call, 2 calls, 1,200 calls; `plural` for irregular nouns (1 query, 2 queries)."""
    word = singular if n == 1 else (plural or singular + "s")
    return f"{n:,} {word}"


def percent(fraction: Decimal | float | None, places: int = 1) -> str:
    """A fraction as a percentage: 0.2345 → 23.5%; None → n/a."""
    if fraction is None:
        return NOT_AVAILABLE
    exact = Decimal(str(fraction)) * 100
    value = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if value == 0 and exact > 0:
        return f"<{Decimal(1).scaleb(-places)}%"
    text = f"{value:,.{places}f}"
    if places and "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def change(fraction: Decimal | None, *, had_before: bool = True) -> str:
    """A relative change against an earlier period: +12%, -4.5%, "new" when nothing was
    spent before, n/a when there is nothing to compare."""
    if fraction is None:
        return "new" if not had_before else NOT_AVAILABLE
    sign = "+" if fraction > 0 else ("" if fraction == 0 else "-")
    return sign + percent(abs(fraction))


def duration_ns(nanoseconds: int | None) -> str:
    """850 ms, 1.2 s, 2 min 5 s, 3 h 20 min."""
    if nanoseconds is None:
        return NOT_AVAILABLE
    return duration_s(Decimal(int(nanoseconds)) / Decimal(1_000_000_000))


def duration_s(seconds: Decimal | float | int | None) -> str:
    if seconds is None:
        return NOT_AVAILABLE
    seconds = Decimal(str(seconds))
    if seconds < Decimal("0.001"):
        return "<1 ms" if seconds > 0 else "0 ms"
    if seconds < 1:
        return f"{(seconds * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP)} ms"
    if seconds < 60:
        places = Decimal("0.1") if seconds < 10 else Decimal(1)
        return f"{seconds.quantize(places, rounding=ROUND_HALF_UP).normalize():f} s"
    whole = int(seconds.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    if whole < 86400:
        hours, rest = divmod(whole // 60, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, rest = divmod(whole // 3600, 24)
    return f"{days} d {rest} h" if rest else f"{days} d"


def moment(value: datetime | date | None, zone: tzinfo | None = None, *, seconds: bool = False) -> str:
    """A time in `zone` (default UTC) as 2025-03-27 14:23 (with seconds when asked), a
    calendar date as 2025-03-27."""
    if value is None:
        return NOT_AVAILABLE
    if not isinstance(value, datetime):
        return value.isoformat()
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    local = value.astimezone(zone or timezone.utc)
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def thresholds(fractions) -> str:
    """Budget thresholds as people say them: 50%, 80%, 100%."""
    return ", ".join(percent(f, places=1) for f in fractions) or "none"


def short_id(identifier: str, keep: int = 8) -> str:
    """The first characters of a trace or span id, enough to tell them apart on a screen."""
    return identifier[:keep] + "…" if len(identifier) > keep + 1 else identifier


def label(value: str | None, empty: str = "(none)") -> str:
    """A dimension's value; calls without one (no team set) are grouped under "" and read "(none)"."""
    return value if value else empty


def signed_money(amount: Decimal | int | None, *, currency: str = "$") -> str:
    """A change in money: +$12.30, -$4.00, $0.00 (None: n/a)."""
    if amount is None:
        return NOT_AVAILABLE
    text = money(amount, currency=currency)
    return "+" + text if Decimal(amount) > 0 else text
