"""`llmledger savings`: what caching, routing and provider prompt caching saved.

    llmledger savings                                  # by strategy, the last 30 days
    llmledger savings --by app --from 2025-03-01 --to 2025-04-01
    llmledger savings --by model --format json
"""
from __future__ import annotations

from .costs import add_report_options, filters_of, run_report

COLUMNS = ("calls", "unvalued_calls", "saved", "cost", "saved_share")


def register(subparsers) -> None:
    from ..analytics.savings import SAVINGS_DIMENSIONS

    parser = subparsers.add_parser("savings", help="what caching, routing and prompt caching saved")
    parser.add_argument("--by", dest="dimension", default="strategy", choices=SAVINGS_DIMENSIONS,
                        help="group by (default strategy)")
    add_report_options(parser, filters=True)
    parser.set_defaults(func=run)


def run(args, runner=None) -> int:
    from ..analytics.savings import savings_by

    def report(run_sql, start, end):
        rows = savings_by(run_sql, args.dimension, start, end, filters=filters_of(args))
        return [args.dimension, *COLUMNS], [[row.key, *(getattr(row, c) for c in COLUMNS)] for row in rows]

    return run_report(args, runner, report)
