"""`llmledger report`: the cost report of a period, and the scheduled reports.

    llmledger report                                   # last complete week, HTML on stdout
    llmledger report --period month --of 2025-03-01 --out march.html
    llmledger report --from 2025-03-01 --to 2025-03-15 --scope app=support-bot --format md
    llmledger report send --dry-run                    # what the schedules would send now
    llmledger report send                              # send the due ones (for cron, without serve)

Periods are calendar days, ISO weeks and months in --tz (default: the config's
reports.timezone); --from/--to are dates in that zone, --to not included. Like the other
read commands it works while `serve` holds the embedded store.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from .options import add_store_options, config_from_args

FORMATS = ("html", "md", "json")


def register(subparsers) -> None:
    parser = subparsers.add_parser("report", help="the cost report of a period (HTML, Markdown or JSON); "
                                                  "`report send` for the scheduled ones")
    add_period_options(parser)
    parser.add_argument("--format", choices=FORMATS, help="html, md or json (default: from --out's suffix, "
                                                          "else html)")
    parser.add_argument("--out", metavar="FILE", help="write the report here instead of to stdout")
    parser.add_argument("--pages-url", help="the built-in pages' address, for links (default: the config's "
                                            "reports.pages_url)")
    add_store_options(parser)
    parser.set_defaults(func=run)

    actions = parser.add_subparsers(dest="report_action", metavar="ACTION")
    send = actions.add_parser("send", help="send the scheduled reports that are due (--dry-run: show them)")
    send.add_argument("--dry-run", action="store_true", help="show what would be sent, send nothing")
    send.add_argument("--id", action="append", metavar="SCHEDULE", help="only this schedule (repeatable)")
    send.add_argument("--format", choices=("table", "json"), default="table")
    add_store_options(send)
    send.set_defaults(func=run_send)


def add_period_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--period", choices=("day", "week", "month"),
                        help="a calendar day, ISO week or month (default: the last complete week)")
    parser.add_argument("--of", type=_date, metavar="DATE", help="the period holding this date (default: the last "
                                                                 "complete one)")
    parser.add_argument("--from", dest="first_day", type=_date, metavar="DATE", help="first day of a custom range")
    parser.add_argument("--to", dest="end_day", type=_date, metavar="DATE", help="the day after a custom range "
                                                                                "(not included)")
    parser.add_argument("--tz", help="time zone of the days (default: reports.timezone of the config, else UTC)")
    parser.add_argument("--scope", default="all", help="all, or NAME=VALUE with NAME one of app, team, tenant, "
                                                       "feature, environment (default all)")


def period_and_scope(args, config):
    """The ReportPeriod and ReportScope the options name; ValueError when they do not fit."""
    from ..reports.model import ReportScope
    from ..reports.periods import custom_period, last_complete, period_of

    tz = args.tz or config.reports.timezone
    if args.first_day or args.end_day:
        if args.period or args.of:
            raise ValueError("give either --period/--of or --from/--to")
        if not (args.first_day and args.end_day):
            raise ValueError("a custom range needs both --from and --to")
        period = custom_period(args.first_day, args.end_day, tz)
    elif args.of:
        period = period_of(args.period or "week", args.of, tz)
    else:
        period = last_complete(args.period or "week", datetime.now(timezone.utc), tz)
    return period, ReportScope.parse(args.scope)


def run(args) -> int:
    from ..reports import settings_of
    from ..reports.build import build_report
    from ..reports.render import render_html, render_json, render_markdown
    from .query import QueryError, open_runner

    config = config_from_args(args)
    fmt = args.format or _format_of(args.out)
    try:
        period, scope = period_and_scope(args, config)
        settings = settings_of(config, args.pages_url or "")
        report = build_report(open_runner(config), period, scope, pricer=pricer_of(config), settings=settings)
        text = {"html": render_html, "md": render_markdown, "json": render_json}[fmt](report)
    except (QueryError, ValueError) as exc:
        print(f"llmledger: {exc}", file=sys.stderr)
        return 1
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {report.title} to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def run_send(args) -> int:
    from ..reports import schedules_of
    from .query import QueryError

    config = config_from_args(args)
    schedules = schedules_of(config)
    if args.id:
        unknown = sorted(set(args.id) - {s.id for s in schedules})
        if unknown:
            print(f"llmledger: no report schedule {', '.join(unknown)} in the config", file=sys.stderr)
            return 2
        schedules = tuple(s for s in schedules if s.id in args.id)
    if not schedules:
        print("llmledger: no report schedules: add them to the config's reports.schedules", file=sys.stderr)
        return 2
    try:
        if args.dry_run:
            return _dry_run(args, config, schedules)
        return _send(args, config, schedules)
    except (QueryError, ValueError) as exc:
        print(f"llmledger: {exc}", file=sys.stderr)
        return 1


def _dry_run(args, config, schedules) -> int:
    """What each schedule sends now: built and rendered, nothing claimed or sent."""
    from .. import format as fmt
    from ..analytics import message_claim
    from ..reports import settings_of
    from ..reports.build import build_report
    from ..reports.delivery import report_message
    from ..reports.render import report_document
    from .query import open_runner

    run_sql = open_runner(config)
    now = datetime.now(timezone.utc)
    found = []
    for schedule in schedules:
        period, due_at, next_due = schedule.due(now)
        key = schedule.key(period)
        claim = message_claim(run_sql, key)
        report = build_report(run_sql, period, schedule.scope, pricer=pricer_of(config),
                              settings=settings_of(config), now=now)
        message = report_message(report, key)
        found.append({
            "schedule": schedule.id, "period": period.label, "key": key, "due_at": due_at.isoformat(),
            "retried_until": next_due.isoformat(),
            "state": f"sent: claimed by {claim[0]} at {fmt.moment(claim[1])} UTC" if claim else "due: not sent yet",
            "channels": [{"type": c.type, "target": c.target()} for c in schedule.channels],
            "subject": f"[llmledger] {message.title}", "summary": message.summary,
            "fields": [list(f) for f in message.fields], "link": message.link or None,
            "email_html_bytes": len(message.html.encode()), "email_images": [i.filename for i in message.images],
            "webhook_json_bytes": len(json.dumps(report_document(report)).encode()),
        })
    if args.format == "json":
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    for entry in found:
        print(f"{entry['schedule']}: {entry['period']} ({entry['state']}; due since {entry['due_at']})")
        for channel in entry["channels"]:
            print(f"  to {channel['type']} {channel['target']}")
        print(f"  subject: {entry['subject']}")
        print(f"  summary: {entry['summary']}")
        for label, value in entry["fields"]:
            print(f"    {label}: {value}")
        print(f"  email: {entry['email_html_bytes']:,} bytes of HTML with {len(entry['email_images'])} inline "
              f"charts; webhook: {entry['webhook_json_bytes']:,} bytes of JSON"
              + (f"; link {entry['link']}" if entry["link"] else ""))
    return 0


def _send(args, config, schedules) -> int:
    """Claim and send the due reports from here: for cron on a store no `serve` holds."""
    from ..notify import Notifier
    from ..reports import settings_of
    from ..reports.scheduler import ReportScheduler
    from .query import open_store, running_service

    if not config.storage.clickhouse_url and running_service(Path(config.storage.data_dir)):
        raise ValueError("`llmledger serve` holds this store and sends the scheduled reports itself; "
                         "`report send --dry-run` shows what it sends")
    client = open_store(config)
    scheduler = ReportScheduler(schedules, client_factory=lambda: client, notifier=Notifier(),
                                pricer=pricer_of(config), settings=lambda: settings_of(config))
    sent = scheduler.run_once()
    if args.format == "json":
        print(json.dumps([s.to_dict() for s in sent], indent=2))
    elif not sent:
        print("no reports due")
    for report in sent if args.format != "json" else ():
        outcomes = ", ".join(f"{d.channel} {'ok' if d.ok else 'FAILED: ' + d.error}" for d in report.deliveries)
        print(f"{'retried: ' if report.retry else ''}{report.title} ({outcomes})")
    return 0 if all(d.ok for s in sent for d in s.deliveries) else 1


def pricer_of(config):
    from ..pricing import PriceBook, Pricer

    return Pricer(PriceBook.load(config.pricing.price_book) if config.pricing.price_book else None)


def _format_of(out: str | None) -> str:
    suffix = Path(out).suffix.lower().lstrip(".") if out else ""
    return {"htm": "html", "markdown": "md"}.get(suffix, suffix) if suffix in ("html", "htm", "md", "markdown",
                                                                              "json") else "html"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (e.g. 2025-03-01)") from None
