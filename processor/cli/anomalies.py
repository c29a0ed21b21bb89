"""`llmledger anomalies`: unusual spend — expensive outlier calls, hourly and daily spikes,
new apps and models — in a time range (by default the last 7 days).

    llmledger anomalies --from 2025-03-25 --to 2025-04-01 --format json
    llmledger anomalies --kind hourly_spike --kind daily_spike
"""
from __future__ import annotations

from .costs import add_report_options, run_report

DEFAULT_DAYS = 7
COLUMNS = ("kind", "at", "app", "model", "observed", "baseline", "threshold", "score", "requests",
           "baseline_samples", "trace_ids", "description")


def register(subparsers) -> None:
    from ..analytics import ANOMALY_KINDS

    parser = subparsers.add_parser("anomalies", help="find unusual spend: outlier calls, spikes, new apps and models")
    parser.add_argument("--kind", action="append", choices=ANOMALY_KINDS,
                        help="only this kind (repeat for several; default all)")
    add_report_options(parser, default_days=DEFAULT_DAYS)
    parser.set_defaults(func=run)


def run(args, runner=None, settings=None) -> int:
    """`settings` (an AnomalySettings) is for callers that tune the detection; the
    command line uses the defaults."""
    from ..analytics import find_anomalies

    def report(run_sql, start, end):
        found = find_anomalies(run_sql, start, end, settings=settings, kinds=args.kind)
        if args.format == "table":
            return _table(args, found, start, end)
        rows = [[getattr(anomaly, name) for name in COLUMNS] for anomaly in found]
        if args.format != "json":  # one cell: the example traces, space separated
            rows = [row[:-2] + [" ".join(row[-2]), row[-1]] for row in rows]
        return list(COLUMNS), rows

    return run_report(args, runner, report)


def _table(args, found, start, end) -> str:
    """A row per anomaly; its description on the lines under it (in one more column with --wide)."""
    import textwrap

    from .. import format as fmt
    from .costs import _span
    from .output import Column, table, terminal_width

    if not found:
        return f"no anomalies from {_span(start, end)}"
    columns = [Column("kind"), Column("at"), Column("app"), Column("model"), Column("observed", numeric=True),
               Column("baseline", numeric=True, optional=True), Column("threshold", numeric=True),
               Column("score", numeric=True, optional=True), Column("calls", numeric=True),
               Column("example traces", optional=True)]
    rows = [[a.kind, fmt.moment(a.at), a.app, a.model, fmt.money(a.observed), fmt.money(a.baseline),
             fmt.money(a.threshold), fmt.number(a.score, 1), fmt.tokens(a.requests), " ".join(a.trace_ids)]
            for a in found]
    footer = fmt.count(len(found), "anomaly", "anomalies")
    width = terminal_width()
    if args.wide:
        text = table(columns + [Column("description")], [r + [a.description] for r, a in zip(rows, found)], wide=True)
        return f"{text}\n{footer}"
    lines = table(columns, rows, width=width).splitlines()
    out = lines[:2]
    for line, anomaly in zip(lines[2:], found):
        out.append(line)
        out += textwrap.wrap(anomaly.description, width=width, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(out + [footer])
