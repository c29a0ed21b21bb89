"""The measured usage, priced otherwise: `llmledger costs whatif` and `llmledger tco`.

    llmledger costs whatif --model gpt-4o=gpt-4o-mini --from 2025-03-01 --to 2025-04-01
    llmledger costs whatif --model claude-sonnet-4=openai/gpt-4.1 --app support-bot
    llmledger tco --gpu-hour-cost 2.40 --gpus 2 --tokens-per-second 2500 --utilization 0.6 --fixed-monthly 1500
    llmledger tco --price-book book.yaml --self-hosted-model llama-3.3-70b-onprem --model llama-3.3-70b
"""
from __future__ import annotations

import argparse
import dataclasses
from decimal import Decimal, InvalidOperation

from .costs import add_report_options, filters_of, run_report
from .options import config_from_args

# The filters of `costs`, but --model, which names the models compared here.
FILTERS = ("app", "environment", "provider", "team", "feature", "tenant", "user")


def register_whatif(reports) -> None:
    """`whatif` as a report of `llmledger costs`."""
    parser = reports.add_parser("whatif", help="what one model's logged tokens would have cost on another")
    parser.add_argument("--model", dest="model_pair", required=True, type=_model_pair, metavar="FROM=TO",
                        help="e.g. gpt-4o=gpt-4o-mini; TO may name a provider: anthropic/claude-sonnet-4")
    parser.add_argument("--period", type=_period, metavar="DAYS",
                        help="the last DAYS days (e.g. 30 or 30d) instead of --from/--to")
    parser.add_argument("--price-book", metavar="FILE", help="your price book (default: the config's)")
    for flag in FILTERS:
        parser.add_argument(f"--{flag}", action="append", metavar="VALUE",
                            help=f"only calls with this {flag} (repeat for any of several)")
    add_report_options(parser)
    parser.set_defaults(func=run_whatif)


def register(subparsers) -> None:
    parser = subparsers.add_parser("tco", help="API prices against self-hosting for the measured token volume")
    parser.add_argument("--gpu-hour-cost", type=_decimal, metavar="USD", help="what one GPU costs per hour")
    parser.add_argument("--gpus", type=int, default=1, help="GPUs you would run at least (default 1)")
    parser.add_argument("--tokens-per-second", type=_decimal, metavar="N",
                        help="sustained tokens per second one GPU serves")
    parser.add_argument("--utilization", type=_decimal, default=Decimal(1), metavar="FRACTION",
                        help="share of the time the GPUs do useful work (default 1)")
    parser.add_argument("--fixed-monthly", type=_decimal, default=Decimal(0), metavar="USD",
                        help="fixed monthly costs of self-hosting: people, licences, hosting (default 0)")
    parser.add_argument("--price-book", metavar="FILE", help="price book with a gpu_amortization entry")
    parser.add_argument("--self-hosted-model", metavar="NAME",
                        help="the price book entry to use instead of the GPU figures")
    parser.add_argument("--period", type=_period, metavar="DAYS", help="the last DAYS days instead of --from/--to")
    add_report_options(parser, filters=True)
    parser.set_defaults(func=run_tco)


def run_whatif(args, runner=None) -> int:
    from ..analytics.whatif import whatif

    _apply_period(args)

    def report(run_sql, start, end):
        result = whatif(run_sql, _pricer(args), *args.model_pair, start, end, filters=filters_of(args))
        return _figures(result, args.format)

    return run_report(args, runner, report)


def run_tco(args, runner=None) -> int:
    from ..analytics.tco import SelfHosting, compare, measured_volume

    _apply_period(args)

    def report(run_sql, start, end):
        volume = measured_volume(run_sql, start, end, filters=filters_of(args))
        if args.self_hosted_model:
            hosting = SelfHosting(price_per_million=_book_price(args), fixed_monthly=args.fixed_monthly,
                                  source=f"price book entry {args.self_hosted_model}")
        else:
            hosting = SelfHosting(gpu_hour_cost=args.gpu_hour_cost, gpus=args.gpus,
                                  tokens_per_second=args.tokens_per_second, utilization=args.utilization,
                                  fixed_monthly=args.fixed_monthly)
        return _figures(compare(volume, hosting), args.format, extra={
            "measured_calls": volume.calls, "measured_unpriced_calls": volume.unpriced_calls,
            "measured_tokens": volume.tokens, "measured_cost": volume.cost})

    return run_report(args, runner, report)


def _figures(result, fmt: str, extra: dict | None = None):
    figures = {**(extra or {}), **dataclasses.asdict(result)}
    if fmt == "table":
        return ["figure", "value"], [[name, value] for name, value in figures.items()]
    if fmt == "json":
        import json

        from ..query import json_safe

        return json.dumps(json_safe(figures), indent=2)
    return list(figures), [list(figures.values())]


def _pricer(args):
    from ..pricing import Pricer, PriceBook

    path = args.price_book or config_from_args(args).pricing.price_book
    return Pricer(PriceBook.load(path) if path else None, warn_unpriced=False)


def _book_price(args) -> Decimal:
    """The price per 1M input tokens of the price book entry named by --self-hosted-model."""
    from datetime import datetime, timezone

    from ..pricing.catalog import ns_from_datetime

    pricer = _pricer(args)
    if pricer.price_book is None:
        raise ValueError("--self-hosted-model needs --price-book (or a price book in the config)")
    name = args.self_hosted_model
    card = pricer.quote_for("", "", name, name, "", ns_from_datetime(datetime.now(timezone.utc))).card
    if card is None or card.source != "price_book" or card.input is None:
        raise ValueError(f"no price book entry prices model {name!r}")
    return card.input.base


def _apply_period(args) -> None:
    if getattr(args, "period", None):
        if args.start:
            raise ValueError("give --period or --from, not both")
        args.default_days = args.period


def _model_pair(text: str) -> tuple[str, str]:
    source, equals, target = text.partition("=")
    if not equals or not source.strip() or not target.strip():
        raise argparse.ArgumentTypeError(f"expected FROM=TO, e.g. gpt-4o=gpt-4o-mini, got {text!r}")
    return source.strip(), target.strip()


def _period(text: str) -> int:
    digits = text.strip().lower().removesuffix("d")
    if not digits.isdigit() or int(digits) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of days such as 30 or 30d, got {text!r}")
    return int(digits)


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value
