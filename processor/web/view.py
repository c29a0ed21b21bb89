"""What a page shows, read from its URL: the time range, the time zone, the filters.

Everything a page depends on is in its query string, so a link shows the same page to
whoever opens it (shareable links). A viewer whose API key is bound to a tenant or an app
gets that filter forced on, whatever the URL says.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from ..analytics.trend import zone_named

# Filterable dimensions, as query parameters; `tag.<name>=value` filters a tag.
FILTERS = ("app", "environment", "provider", "model", "team", "feature", "tenant", "user")
TAG_PARAMETER = "tag."
# Preset ranges: name -> label. Days are calendar days in the page's time zone.
RANGES = {"24h": "Last 24 hours", "today": "Today", "7d": "Last 7 days", "30d": "Last 30 days",
          "month": "This month", "last-month": "Last month"}
DEFAULT_RANGE = "7d"


class BadRequest(ValueError):
    """A query parameter the page cannot use; the message says which and why."""


@dataclass(frozen=True)
class Viewer:
    """Who looks: None for an open service; a key bound to a tenant or an app sees only that."""

    key_id: str = ""
    tenant: str = ""
    app: str = ""

    @property
    def restricted(self) -> bool:
        return bool(self.tenant or self.app)

    def forced_filters(self) -> dict[str, str]:
        forced = {}
        if self.tenant:
            forced["tenant"] = self.tenant
        if self.app:
            forced["app"] = self.app
        return forced


@dataclass(frozen=True)
class View:
    """A page's range [start, end) in UTC, its zone, and the filters for the analytics API."""

    start: datetime
    end: datetime
    zone: ZoneInfo
    range_name: str  # a key of RANGES, or "custom"
    filters: dict  # as the analytics API takes them, the viewer's forced ones included
    params: dict[str, list[str]] = field(default_factory=dict)  # the query string as given
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def tz(self) -> str:
        return self.zone.key

    @property
    def granularity(self) -> str:
        """Hours for ranges of up to two days, else days."""
        return "hour" if self.end - self.start <= timedelta(days=2) else "day"

    @property
    def label(self) -> str:
        if self.range_name in RANGES:
            return RANGES[self.range_name]
        last = (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()
        return f"{self.start.astimezone(self.zone).date().isoformat()} – {last.isoformat()}"

    def first(self, name: str, default: str = "") -> str:
        values = self.params.get(name)
        return values[0] if values else default

    # The query string without some parameters, by their names: a page links every row of a
    # table (thousands of users), and encoding the unchanged parameters once per page is enough.
    _kept: dict = field(default_factory=dict, compare=False, repr=False)

    def link(self, path: str, **changes) -> str:
        """`path` with this page's query string, some parameters changed (None removes one)."""
        changes = {name.replace("__", "."): value for name, value in changes.items()}  # tag__tier -> tag.tier
        names = frozenset(changes)
        kept = self._kept.get(names)
        if kept is None:
            kept = self._kept[names] = urlencode([(name, v) for name, values in self.params.items()
                                                  if name not in names for v in values])
        added = urlencode([(name, v) for name, value in changes.items() if value is not None
                           for v in (value if isinstance(value, list) else [str(value)])])
        query = "&".join(part for part in (kept, added) if part)
        return f"{path}?{query}" if query else (path or "?")

    @property
    def query(self) -> str:
        """This page's query string with its "?", or "" when it has none."""
        link = self.link("")
        return "" if link == "?" else link

    def filter_items(self) -> list[tuple[str, str]]:
        """The filters the URL sets, as (parameter, value) pairs, for the page to show."""
        return [(name, value) for name, values in self.params.items()
                if name in FILTERS or name.startswith(TAG_PARAMETER) for value in values if value]


def parse_view(params: dict[str, list[str]], viewer: Viewer | None = None, *,
               now: datetime | None = None, default_range: str = DEFAULT_RANGE) -> View:
    """The View for a query string given as {name: [values]}. Raises BadRequest."""
    now = now or datetime.now(timezone.utc)
    try:
        zone = zone_named(_one(params, "tz") or "UTC")
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    start_text, end_text = _one(params, "from"), _one(params, "to")
    if start_text or end_text:
        start, end, name = *_custom_range(start_text, end_text, zone, now), "custom"
    else:
        name = _one(params, "range") or default_range
        if name not in RANGES:
            raise BadRequest(f"unknown range {name!r}: use one of {', '.join(RANGES)}, or from=YYYY-MM-DD&to=YYYY-MM-DD")
        start, end = preset_range(name, zone, now)
    filters: dict = {}
    for name_, values in params.items():
        values = [v for v in values if v != ""]
        if not values:
            continue
        if name_ in FILTERS:
            filters[name_] = values[0] if len(values) == 1 else values
        elif name_.startswith(TAG_PARAMETER) and len(name_) > len(TAG_PARAMETER):
            filters["tag:" + name_[len(TAG_PARAMETER):]] = values[0] if len(values) == 1 else values
    if viewer is not None:
        filters.update(viewer.forced_filters())
    return View(start=start, end=end, zone=zone, range_name=name, filters=filters, params=params, now=now)


def preset_range(name: str, zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of a preset in UTC. Ranges end at a whole hour (the end of the current hour
    or of today), so that the hourly rollup answers them."""
    today = now.astimezone(zone).date()
    tomorrow = _midnight(today + timedelta(days=1), zone)
    if name == "24h":
        end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return end - timedelta(hours=24), end
    if name == "today":
        return _midnight(today, zone), tomorrow
    if name in ("7d", "30d"):
        return _midnight(today - timedelta(days=int(name[:-1]) - 1), zone), tomorrow
    first = today.replace(day=1)
    if name == "month":
        return _midnight(first, zone), _midnight((first + timedelta(days=32)).replace(day=1), zone)
    previous = (first - timedelta(days=1)).replace(day=1)
    return _midnight(previous, zone), _midnight(first, zone)


def _custom_range(start_text: str, end_text: str, zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """from/to are calendar days in the page's zone, both included."""
    try:
        last = date.fromisoformat(end_text) if end_text else now.astimezone(zone).date()
        first = date.fromisoformat(start_text) if start_text else last - timedelta(days=6)
    except ValueError:
        raise BadRequest(f"from/to must be dates such as 2025-03-01, got {start_text!r} / {end_text!r}") from None
    if first > last:
        raise BadRequest(f"the range starts ({first}) after it ends ({last})")
    if (last - first).days > 366:
        raise BadRequest("a range of at most 366 days, please")
    return _midnight(first, zone), _midnight(last + timedelta(days=1), zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(timezone.utc)


def _one(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name) or [""]
    return values[0].strip()
