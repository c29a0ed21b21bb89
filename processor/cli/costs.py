"""`llmledger costs …`: who spent what — by dimension, over time, in total, top spenders, per trace.

    llmledger costs by app --from 2025-03-01 --to 2025-04-01
    llmledger costs trend --granularity day --by model --tz Europe/Berlin
    llmledger costs summary --app support-bot
    llmledger costs top user -n 10 --format json
    llmledger costs trace 4bf92f3577b34da6a3ce929d0e0e4736
    llmledger costs whatif --model gpt-4o=gpt-4o-mini --period 30d     (see `alternatives`)

Ranges are [--from, --to): ISO dates or date-times, UTC unless a zone is given; by
default the last 30 days up to now. The range options and the output helpers are
shared with `llmledger anomalies`.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

from .options import add_store_options, config_from_args
from .output import Column

DEFAULT_DAYS = 30
# Filter flag -> dimension; `--tag NAME=VALUE` adds tag filters.
FILTER_FLAGS = ("app", "environment", "provider", "model", "team", "feature", "tenant", "user")
SPEND_COLUMNS = ("cost", "requests", "unpriced_requests", "errors", "input_tokens", "output_tokens",
                 "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "total_tokens")
# The same measures in a table for people; the optional ones go first when 100 columns are tight.
SPEND_TABLE = [Column("cost", numeric=True), Column("calls", numeric=True), Column("unpriced", numeric=True),
               Column("errors", numeric=True, optional=True), Column("input", numeric=True),
               Column("output", numeric=True), Column("cached", numeric=True, optional=True),
               Column("cache writes", numeric=True, optional=True),
               Column("reasoning", numeric=True, optional=True), Column("tokens", numeric=True, optional=True)]


def register(subparsers) -> None:
    from ..analytics import DIMENSIONS, GRANULARITIES

    parser = subparsers.add_parser("costs", help="cost reports: by dimension, trend, summary, top spenders, trace")
    reports = parser.add_subparsers(dest="report", metavar="REPORT", required=True)
    dimension_help = f"one of: {', '.join(DIMENSIONS)}"

    by = reports.add_parser("by", help="cost, tokens and requests per value of a dimension")
    by.add_argument("dimension", help=dimension_help)
    add_report_options(by, filters=True)
    by.set_defaults(func=run_by)

    trend = reports.add_parser("trend", help="cost per hour, day, week or month")
    trend.add_argument("--granularity", choices=GRANULARITIES, default="day")
    trend.add_argument("--by", dest="dimension", help=f"also split by a dimension ({dimension_help})")
    trend.add_argument("--tz", default="UTC", help="time zone of day, week and month buckets (default UTC)")
    add_report_options(trend, filters=True)
    trend.set_defaults(func=run_trend)

    summary = reports.add_parser("summary", help="total cost, requests, tokens, averages and cache savings")
    add_report_options(summary, filters=True)
    summary.set_defaults(func=run_summary)

    top = reports.add_parser("top", help="the biggest spenders by a dimension")
    top.add_argument("dimension", help=dimension_help)
    top.add_argument("-n", "--limit", type=int, default=10, help="how many (default 10)")
    add_report_options(top, filters=True)
    top.set_defaults(func=run_top)

    trace = reports.add_parser("trace", help="one trace's LLM calls and what they cost")
    trace.add_argument("trace_id", help="32 hex digits")
    add_report_options(trace, time_range=False)
    trace.set_defaults(func=run_trace)

    from .alternatives import register_whatif

    register_whatif(reports)


def add_report_options(parser: argparse.ArgumentParser, *, filters: bool = False, time_range: bool = True,
                       default_days: int = DEFAULT_DAYS) -> None:
    if time_range:
        parser.add_argument("--from", dest="start", type=_moment, metavar="WHEN",
                            help=f"start of the range, ISO date or date-time (default: {default_days} days "
                                 "before --to)")
        parser.add_argument("--to", dest="end", type=_moment, metavar="WHEN",
                            help="end of the range, not included (default: now)")
        parser.set_defaults(default_days=default_days)
    if filters:
        for flag in FILTER_FLAGS:
            parser.add_argument(f"--{flag}", action="append", metavar="VALUE",
                                help=f"only calls with this {flag} (repeat for any of several)")
        parser.add_argument("--tag", action="append", metavar="NAME=VALUE", type=_tag_filter,
                            help="only calls with this tag value (llmledger.tag.NAME)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table",
                        help="table (for people: rounded, fits 100 columns), or json/csv (exact values)")
    parser.add_argument("--wide", action="store_true", help="show every column of the table, in full")
    add_store_options(parser)


def run_by(args, runner=None) -> int:
    from ..analytics import cost_by

    return run_report(args, runner, lambda run, start, end: _spend_report(
        args, args.dimension, cost_by(run, args.dimension, start, end, filters=filters_of(args)), start, end))


def run_top(args, runner=None) -> int:
    from ..analytics import top_spenders

    return run_report(args, runner, lambda run, start, end: _spend_report(
        args, args.dimension, top_spenders(run, args.dimension, start, end, limit=args.limit,
                                           filters=filters_of(args)), start, end))


def run_trend(args, runner=None) -> int:
    from .. import format as fmt
    from ..analytics import cost_trend

    def report(run, start, end):
        points = cost_trend(run, args.granularity, start, end, dimension=args.dimension,
                            filters=filters_of(args), tz=args.tz)
        if args.format != "table":
            columns = ["bucket"] + ([args.dimension] if args.dimension else []) + list(SPEND_COLUMNS)
            rows = [[p.bucket] + ([p.key] if args.dimension else []) + [getattr(p, c) for c in SPEND_COLUMNS]
                    for p in points]
            return columns, rows
        if not points:
            return f"no calls from {_span(start, end)}"
        zone = _zone(args.tz)
        keys = [Column(args.granularity)] + ([Column(args.dimension)] if args.dimension else [])
        rows = [[fmt.moment(p.bucket, zone)] + ([fmt.label(p.key)] if args.dimension else []) + _spend_cells(p)
                for p in points]
        return _table(args, keys + SPEND_TABLE, rows, _spend_footer(points, f"{args.granularity} bucket"))

    return run_report(args, runner, report)


def run_summary(args, runner=None) -> int:
    from .. import format as fmt
    from ..analytics import summary

    def report(run, start, end):
        result = summary(run, start, end, filters=filters_of(args))
        if args.format == "json":
            return result
        if args.format == "csv":
            figures = dataclasses.asdict(result)
            return list(figures), [list(figures.values())]
        unknown = result.cache_savings_unknown_requests
        figures = [
            ("range", _span(result.start, result.end)),
            ("cost", fmt.money_of(result)),
            ("calls", f"{fmt.tokens(result.requests)} ({fmt.tokens(result.unpriced_requests)} unpriced, "
                      f"{fmt.count(result.errors, 'error')})"),
            ("per call", fmt.money(result.average_cost_per_request)),
            ("per 1k tokens", fmt.money(result.average_cost_per_1k_tokens)),
            ("input tokens", f"{fmt.tokens(result.input_tokens)} ({fmt.tokens(result.cache_read_tokens)} cache "
                             f"reads, {fmt.tokens(result.cache_write_tokens)} cache writes)"),
            ("output tokens", f"{fmt.tokens(result.output_tokens)} ({fmt.tokens(result.reasoning_tokens)} reasoning)"),
            ("cache savings", fmt.money(result.cache_savings)
             + (f" ({fmt.count(unknown, 'call')} with cache reads not valued)" if unknown else "")),
        ]
        # One figure per line reads better than a very wide row.
        return _table(args, [Column("figure"), Column("value")], figures, "")

    return run_report(args, runner, report)


def run_trace(args, runner=None) -> int:
    from .. import format as fmt
    from ..analytics import TraceCall, trace_cost

    def report(run, start, end):
        trace = trace_cost(run, args.trace_id)
        if trace is None:
            raise LookupError(f"no spans stored for trace {args.trace_id}")
        if args.format == "json":
            return trace
        columns = [field.name for field in dataclasses.fields(TraceCall)]
        if args.format == "csv":
            return columns, [[getattr(call, name) for name in columns] for call in trace.calls]
        header = (f"trace {trace.trace_id}: {fmt.money(trace.cost)}, {fmt.count(trace.llm_calls, 'LLM call')} "
                  f"({trace.unpriced_calls} unpriced), {fmt.tokens(trace.total_tokens)} tokens, "
                  f"{fmt.count(trace.span_count, 'span')} in all")
        table_columns = [Column("time"), Column("span"), Column("app"), Column("model"),
                         Column("input", numeric=True), Column("output", numeric=True),
                         Column("cached", numeric=True, optional=True), Column("latency", numeric=True),
                         Column("status", optional=True), Column("cost", numeric=True)]
        rows = [[fmt.moment(c.timestamp, seconds=True), c.span_id, c.app, c.model, fmt.tokens(c.input_tokens),
                 fmt.tokens(c.output_tokens), fmt.tokens(c.cache_read_tokens), fmt.duration_ns(c.duration_ns),
                 c.status, fmt.money(c.cost)] for c in trace.calls]
        return header + "\n\n" + _table(args, table_columns, rows, "")

    return run_report(args, runner, report, needs_range=False)


def filters_of(args) -> dict:
    """The filter flags given, as the analytics API takes them."""
    filters = {}
    for flag in FILTER_FLAGS:
        values = getattr(args, flag, None)
        if values:
            filters[flag] = values[0] if len(values) == 1 else values
    for name, value in getattr(args, "tag", None) or []:
        key = f"tag:{name}"
        filters[key] = [*_as_list(filters[key]), value] if key in filters else value
    return filters


def time_range_of(args):
    """--from and --to, defaulting to the `default_days` days up to now."""
    from datetime import datetime, timedelta, timezone

    end = args.end or datetime.now(timezone.utc)
    start = args.start or end - timedelta(days=args.default_days)
    return start, end


def run_report(args, runner, build, *, needs_range: bool = True) -> int:
    """Run one report and print it; errors become a message on stderr and exit status 1."""
    from .query import QueryError, open_runner

    try:
        run = runner or open_runner(config_from_args(args))
        start, end = time_range_of(args) if needs_range else (None, None)
        print_result(build(run, start, end), args.format)
    except (QueryError, ValueError, LookupError) as exc:
        print(f"llmledger: {exc}", file=sys.stderr)
        return 1
    return 0


def print_result(result, fmt: str) -> None:
    """A report's result: (columns, rows) of exact values (json, csv), ready text (a table
    for people, paged on a terminal), or a dataclass (json)."""
    import json

    from ..query import format_rows, json_safe
    from .output import show

    if isinstance(result, str):
        show(result)
    elif dataclasses.is_dataclass(result):
        print(json.dumps(json_safe(dataclasses.asdict(result)), indent=2, ensure_ascii=False))
    else:
        columns, rows = result
        print(format_rows(columns, [json_safe(row) for row in rows], fmt))


def _spend_report(args, dimension: str, rows, start, end):
    """A breakdown: exact columns for json/csv, a table for people."""
    from .. import format as fmt

    if args.format != "table":
        return [dimension, *SPEND_COLUMNS], [[row.key, *(getattr(row, c) for c in SPEND_COLUMNS)] for row in rows]
    if not rows:
        return f"no calls from {_span(start, end)}"
    noun = "value" if dimension.startswith("tag:") else dimension
    return _table(args, [Column(dimension)] + SPEND_TABLE, [[fmt.label(r.key)] + _spend_cells(r) for r in rows],
                  _spend_footer(rows, noun))


def _spend_cells(spend) -> list[str]:
    from .. import format as fmt

    return [fmt.money_of(spend), fmt.tokens(spend.requests), fmt.tokens(spend.unpriced_requests),
            fmt.tokens(spend.errors), fmt.tokens(spend.input_tokens), fmt.tokens(spend.output_tokens),
            fmt.tokens(spend.cache_read_tokens), fmt.tokens(spend.cache_write_tokens),
            fmt.tokens(spend.reasoning_tokens), fmt.tokens(spend.total_tokens)]


def _spend_footer(rows, noun: str) -> str:
    from .. import format as fmt
    from ..analytics.sources import add_costs

    calls = sum(r.requests for r in rows)
    cost = add_costs(r.cost for r in rows)
    return f"{fmt.count(len(rows), noun)}, {fmt.count(calls, 'call')}, {fmt.money(cost)}"


def _table(args, columns, rows, footer: str) -> str:
    from .output import table, terminal_width

    text = table(columns, rows, wide=args.wide, width=terminal_width())
    return text + (f"\n{footer}" if footer else "")


def _span(start, end) -> str:
    from .. import format as fmt

    return f"{fmt.moment(start)} to {fmt.moment(end)} UTC"


def _zone(name: str):
    from ..analytics.trend import zone_named

    return zone_named(name)


def _moment(text: str):
    from ..analytics.time_range import parse_moment

    try:
        return parse_moment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _tag_filter(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, e.g. customer_tier=gold, got {text!r}")
    return name, value


def _as_list(value):
    return value if isinstance(value, list) else [value]
