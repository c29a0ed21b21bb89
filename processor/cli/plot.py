"""`llmledger plot`: the report's charts as PNG or SVG files, for slides.

    llmledger plot trend --period month --of 2025-03-01 --by team --out trend.svg
    llmledger plot share --by provider --scope app=support-bot
    llmledger plot all --period week --out charts/      # every chart into a folder

Charts: trend (spend per day stacked by --by, default model), share (cost share by --by,
default model), tokens (input vs output by --by, default app), cost-requests (cost against
requests by --by, default app), burn-down (the budgets). The period options are those of
`llmledger report`.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .options import add_store_options, config_from_args
from .report import add_period_options, period_and_scope


def register(subparsers) -> None:
    from ..reports.plots import CHARTS

    parser = subparsers.add_parser("plot", help="the report's charts as PNG or SVG files")
    parser.add_argument("chart", choices=CHARTS + ("all",), help="which chart (all: every one, into the --out folder)")
    parser.add_argument("--by", dest="dimension", help="the dimension to split by (see `llmledger costs by`)")
    add_period_options(parser)
    parser.add_argument("--format", choices=("png", "svg"), help="png or svg (default: from --out's suffix, "
                                                                "else png)")
    parser.add_argument("--out", metavar="PATH", help="the file (a folder for `all`; default: CHART.FORMAT here)")
    add_store_options(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..reports.charts import render
    from ..reports.plots import CHARTS, plot
    from .query import QueryError, open_runner

    config = config_from_args(args)
    image_format = args.format or ("svg" if (args.out or "").lower().endswith(".svg") else "png")
    names = CHARTS if args.chart == "all" else (args.chart,)
    try:
        period, scope = period_and_scope(args, config)
        run_sql = open_runner(config)
        for name in names:
            figure = plot(run_sql, name, period, scope, None if name == "burn-down" else args.dimension)
            if figure is None:
                print(f"llmledger: {name}: nothing to show for {period.label}", file=sys.stderr)
                continue
            path = _path(args.out, name, image_format, folder=args.chart == "all")
            path.write_bytes(render(figure, image_format))
            print(f"wrote {path}")
    except (QueryError, ValueError, OSError) as exc:
        print(f"llmledger: {exc}", file=sys.stderr)
        return 1
    return 0


def _path(out: str | None, name: str, image_format: str, *, folder: bool) -> Path:
    if folder:
        directory = Path(out or ".")
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"{name}.{image_format}"
    return Path(out) if out else Path(f"{name}.{image_format}")
