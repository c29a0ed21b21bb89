"""Scheduled reports, as the config file's `reports.schedules` declares them:

    reports:
      timezone: Europe/Berlin
      schedules:
        - id: weekly-review
          period: week            # day, week or month
          scope: all              # or app=support-bot, team=..., tenant=...
          send_at: "08:00"        # local time on the first day after the period
          channels:
            - {type: email, recipients: [finops@example.com]}
            - {type: slack, webhook: https://hooks.slack.com/services/...}
            - {type: webhook, url: https://example.com/hooks/llm-costs}

A report is due from its `send_at` on the day after its period; the latest due period is
the one sent, once (see scheduler.py), and retried until the next one is due.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from ..analytics.trend import zone_named
from ..notify import Channel, ChannelConfigError, parse_channel
from .model import ReportScope
from .periods import KINDS, ReportPeriod, last_complete, period_of

_KEYS = ("id", "period", "scope", "timezone", "send_at", "channels")


@dataclass(frozen=True)
class ReportSchedule:
    id: str
    period: str  # day, week or month
    scope: ReportScope
    tz: str
    send_at: time
    channels: tuple[Channel, ...]

    def due(self, now: datetime) -> tuple[ReportPeriod, datetime, datetime] | None:
        """The latest period whose report is due at `now`, when it became due, and when the
        next one does (where retrying it stops)."""
        period = last_complete(self.period, now, self.tz)
        if now < self.sends_at(period):
            period = period_of(self.period, period.first_day - timedelta(days=1), self.tz)
        following = period_of(self.period, period.last_day + timedelta(days=1), self.tz)
        return period, self.sends_at(period), self.sends_at(following)

    def sends_at(self, period: ReportPeriod) -> datetime:
        day = period.last_day + timedelta(days=1)
        return datetime.combine(day, self.send_at, tzinfo=zone_named(self.tz))

    def key(self, period: ReportPeriod) -> str:
        """The dedup key: one report per schedule and period, whoever sends it. The scope is
        part of it: a schedule given another scope is another report."""
        scope = hashlib.sha256(str(self.scope).encode()).hexdigest()[:8]
        return f"report|{self.id}|{self.period}|{period.first_day.isoformat()}|{scope}"


def parse_schedules(value: Any, default_tz: str = "UTC") -> tuple[ReportSchedule, ...]:
    """The schedules of the config; ValueError naming the schedule and key that are wrong."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError("must be a list of report schedules")
    found: list[ReportSchedule] = []
    for index, entry in enumerate(value):
        where = f"schedule {index + 1}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be a mapping with id, period and channels")
        if isinstance(entry.get("id"), str) and entry["id"]:
            where = f"schedule {entry['id']!r}"
        try:
            found.append(_schedule(entry, default_tz))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    ids = [s.id for s in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"schedule ids must differ: {', '.join(duplicates)} given twice")
    return tuple(found)


def _schedule(entry: dict, default_tz: str) -> ReportSchedule:
    unknown = [k for k in entry if k not in _KEYS]
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown key (expected one of: {', '.join(_KEYS)})")
    schedule_id = entry.get("id")
    if not isinstance(schedule_id, str) or not schedule_id.strip() or "|" in schedule_id:
        raise ValueError("id: is required: a name without '|', e.g. weekly-review")
    period = entry.get("period", "week")
    if period not in KINDS:
        raise ValueError(f"period: must be one of {', '.join(KINDS)}, got {period!r}")
    tz = entry.get("timezone", default_tz)
    if not isinstance(tz, str):
        raise ValueError("timezone: must be an IANA time zone name such as Europe/Berlin")
    zone_named(tz)
    scope_text = entry.get("scope", "all")
    if not isinstance(scope_text, str):
        raise ValueError("scope: must be all or NAME=VALUE, e.g. app=support-bot")
    scope = ReportScope.parse(scope_text)
    channels_config = entry.get("channels")
    if not isinstance(channels_config, list) or not channels_config:
        raise ValueError("channels: is required: a list of email, slack or webhook channels")
    channels = []
    for number, config in enumerate(channels_config, start=1):
        try:
            channels.append(parse_channel(config))
        except ChannelConfigError as exc:
            raise ValueError(f"channel {number}: {exc}") from None
    return ReportSchedule(id=schedule_id.strip(), period=period, scope=scope, tz=tz,
                          send_at=_time_of_day(entry.get("send_at", "08:00")), channels=tuple(channels))


def _time_of_day(value: Any) -> time:
    # YAML 1.1 reads an unquoted 8:00 as minutes (480): take that too.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    try:
        if isinstance(value, str):
            return time.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError(f"send_at: must be a time of day such as \"08:00\", got {value!r}")
