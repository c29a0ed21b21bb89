"""`llmledger prices`: look at the prices llmledger charges, and check a price book.

    llmledger prices list  [--provider P] [--match GLOB]
    llmledger prices show  MODEL [--provider P] [--at DATE]
    llmledger prices test  MODEL --input N --output N [--cache-read N] [--cache-write N]
                           [--reasoning N] [--tier batch] [--provider P] [--at DATE]
    llmledger prices check [FILE]
    llmledger prices reprice --from DATE --to DATE [--model M] [--dry-run] --reason TEXT

Every command takes --price-book FILE and --format table|json. Exit code 0 on
success, 1 when a model has no price or a price book is invalid, 2 for bad usage.

`reprice` applies the price book (--price-book, else the config's) and the bundled
catalog in force at each stored call's own time to the calls in [--from, --to): the
rows whose price changes get a new version (the rollups follow), and the run is
recorded in the store's repricing_log with --by (default: your user name) and --reason.
While `serve` holds the embedded store, the command goes through it.
"""
from __future__ import annotations

import argparse
import fnmatch
import getpass
import json
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from ..pricing import PriceBook, PriceBookError, Pricer
from .options import add_store_options, config_from_args
from ..pricing.catalog import EARLIEST, LATEST, datetime_from_ns, ns_from_datetime
from ..pricing.rates import Rate, RateCard

TIERS = ("", "batch", "flex", "priority")
RATE_COLUMNS = ("input", "cache_read", "cache_write", "output", "reasoning")


class CommandError(Exception):
    """A failure to report in one line, with exit code 1."""


def register(subparsers: Any) -> None:
    """Add the `prices` command to the `llmledger` command line."""
    parser = subparsers.add_parser(
        "prices", help="show the prices llmledger charges; check a price book",
        description="Show the prices llmledger charges (price book, then the bundled catalog) and check price books.")
    commands = parser.add_subparsers(dest="prices_command", metavar="COMMAND", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--price-book", metavar="FILE", help="your price book (YAML)")
    common.add_argument("--format", choices=("table", "json"), default="table", help="output format")

    listing = commands.add_parser("list", parents=[common], help="models with their current prices")
    listing.add_argument("--provider", default="", help="only this provider (gen_ai.provider.name or catalog id)")
    listing.add_argument("--match", metavar="GLOB", default="", help="only models whose name matches GLOB")
    listing.set_defaults(func=_guarded(run_list))

    show = commands.add_parser("show", parents=[common], help="every rate of the price in force for a model")
    show.add_argument("model")
    show.add_argument("--provider", default="", help="gen_ai.provider.name or catalog id")
    show.add_argument("--at", type=parse_moment, metavar="DATE", help="price in force at DATE (default: now)")
    show.set_defaults(func=_guarded(run_show))

    test = commands.add_parser("test", parents=[common], help="price one example call")
    test.add_argument("model")
    test.add_argument("--input", type=_count, required=True, metavar="N", help="input tokens, cached ones included")
    test.add_argument("--output", type=_count, required=True, metavar="N", help="output tokens, reasoning included")
    test.add_argument("--cache-read", type=_count, default=0, metavar="N")
    test.add_argument("--cache-write", type=_count, default=0, metavar="N")
    test.add_argument("--reasoning", type=_count, default=0, metavar="N")
    test.add_argument("--tier", default="", help="service tier: batch, flex, priority (default: standard)")
    test.add_argument("--operation", default="chat", help="gen_ai.operation.name, e.g. embeddings")
    test.add_argument("--provider", default="", help="gen_ai.provider.name or catalog id")
    test.add_argument("--at", type=parse_moment, metavar="DATE", help="price in force at DATE (default: now)")
    test.set_defaults(func=_guarded(run_test))

    check = commands.add_parser("check", parents=[common], help="validate a price book")
    check.add_argument("file", nargs="?", help="the price book (default: --price-book)")
    check.set_defaults(func=_guarded(run_check))

    reprice = commands.add_parser("reprice", parents=[common],
                                  help="re-apply the prices in force to stored calls (audited)")
    reprice.add_argument("--from", dest="start", type=parse_moment, required=True, metavar="DATE",
                         help="first call time to re-price (UTC unless given)")
    reprice.add_argument("--to", dest="end", type=parse_moment, required=True, metavar="DATE",
                         help="end of the range, not included")
    reprice.add_argument("--model", default="", help="only calls of this model (as served or as asked for)")
    reprice.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    reprice.add_argument("--reason", default="", help="why (recorded in repricing_log; required unless --dry-run)")
    reprice.add_argument("--by", default="", help="who (recorded; default: your user name)")
    add_store_options(reprice)
    reprice.set_defaults(func=_guarded(run_reprice))


def main(argv: list[str] | None = None) -> int:
    """Run `llmledger prices ...` on its own: `python -m llmledger.processor.cli.prices list`."""
    parser = argparse.ArgumentParser(prog="llmledger")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["prices", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


# -- argument types ----------------------------------------------------------------

def parse_moment(text: str) -> datetime:
    """YYYY-MM-DD (00:00 UTC) or an ISO date-time (UTC when it has no offset)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date {text!r} (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _count(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (CommandError, PriceBookError) as exc:
            if args.format == "json":
                _print_json({"ok": False, "error": str(exc)})
            else:
                print(f"error: {exc}", file=sys.stderr)
            return 1
    return run


# -- the commands --------------------------------------------------------------------

def run_list(args: argparse.Namespace) -> int:
    pricer = Pricer(_load_book(args.price_book))
    now_ns = ns_from_datetime(datetime.now(UTC))
    wanted_provider = args.provider.strip().lower()
    wanted_ids = {wanted_provider, pricer.catalog.provider_id(wanted_provider) or ""} - {""}
    rows: list[dict[str, Any]] = []

    book = pricer.price_book
    if book is not None:
        for entry in book.models:
            selector = entry.selector
            if wanted_ids and selector.provider and selector.provider not in wanted_ids:
                continue
            if args.match and not fnmatch.fnmatch(selector.match.lower(), args.match.lower()):
                continue
            history = [e for e in book.models if e.selector == selector and e.effective_from_ns <= now_ns]
            if history and entry is max(history, key=lambda e: e.effective_from_ns):
                rows.append(_card_row(entry.card, provider=selector.provider or "*"))

    for found in pricer.catalog.iter_models():
        if wanted_ids and found.provider.id not in wanted_ids:
            continue
        if args.match and not fnmatch.fnmatch(found.model.id.lower(), args.match.lower()):
            continue
        rules = book.fitting_discounts(frozenset({found.provider.id}), (found.model.id,)) if book else []
        quote = pricer.catalog_quote(found, "", now_ns, rules)
        if quote.card is not None:
            rows.append(_card_row(quote.card, provider=found.provider.id))

    if args.format == "json":
        _print_json({"ok": True, "models": rows})
    elif rows:
        print(_table(rows, ("source", "provider", "model", *RATE_COLUMNS, "request", "notes")))
        print("\nUSD per 1M tokens (request: USD per call); '+' marks a long-context step (see `prices show`).")
    else:
        print("no models match")
    return 0


def run_show(args: argparse.Namespace) -> int:
    pricer = Pricer(_load_book(args.price_book))
    at = args.at or datetime.now(UTC)
    at_ns = ns_from_datetime(at)
    standard = pricer.quote_for(args.provider, "", args.model, "", "", at_ns)
    if standard.card is None:
        raise CommandError(standard.reason)
    card = standard.card
    tiers = {tier or "standard": pricer.quote_for(args.provider, "", args.model, "", tier, at_ns) for tier in TIERS}
    if args.format == "json":
        _print_json({
            "ok": True, "model": args.model, "at": at.isoformat(), **_card_json(card),
            "valid_from": _bound(standard.valid_from_ns), "valid_until": _bound(standard.valid_until_ns),
            "tiers": {name: (_card_json(q.card) if q.card else {"unpriced": q.reason}) for name, q in tiers.items()},
        })
        return 0
    priced_as = f"  (priced as {card.provider}/{card.model})" if card.model != args.model else ""
    print(f"model        {args.model}{priced_as}")
    print(f"at           {at.isoformat()}")
    print(f"source       {card.source}")
    print(f"version      {card.version}")
    print(f"valid        {_bound(standard.valid_from_ns) or 'always'} .. {_bound(standard.valid_until_ns) or 'no end'}")
    for note in card.notes:
        print(f"note         {note}")
    print()
    rows = [{"component": name, **_rate_cells(getattr(card, name))} for name in RATE_COLUMNS
            if getattr(card, name) is not None]
    if card.request is not None:
        rows.append({"component": "request", "USD per call": _plain(card.request)})
    print(_table(rows, ("component", "USD per 1M", "long context", *(("USD per call",) if card.request else ()))))
    print()
    tier_rows = []
    for name, quote in tiers.items():
        if quote.card is None:
            tier_rows.append({"tier": name, "input": "-", "output": "-", "version": f"unpriced: {quote.reason}"})
        else:
            tier_rows.append({"tier": name, "input": _rate_text(quote.card.input),
                              "output": _rate_text(quote.card.output), "version": quote.card.version})
    print(_table(tier_rows, ("tier", "input", "output", "version")))
    return 0


def run_test(args: argparse.Namespace) -> int:
    from ..analytics.prices import estimate_cost

    # The reason is printed below; no log warning on top of it.
    pricer = Pricer(_load_book(args.price_book), warn_unpriced=False)
    estimate = estimate_cost(
        pricer, args.model, provider=args.provider, at=args.at or datetime.now(UTC), tier=args.tier,
        operation=args.operation, input_tokens=args.input, output_tokens=args.output,
        cache_read_tokens=args.cache_read, cache_write_tokens=args.cache_write, reasoning_tokens=args.reasoning)
    if estimate.cost is None:
        raise CommandError(estimate.reason)
    if args.format == "json":
        _print_json({"ok": True, "model": args.model, "at": estimate.at.isoformat(), "tier": args.tier or "standard",
                     "cost": _plain(estimate.cost), "components": {k: _plain(v) for k, v in estimate.components.items()},
                     "source": estimate.source, "version": estimate.version})
        return 0
    rows = [{"component": name, "USD": _plain(value)} for name, value in estimate.components.items()]
    rows.append({"component": "total", "USD": _plain(estimate.cost)})
    print(_table(rows, ("component", "USD"), right=("USD",)))
    print(f"\nsource   {estimate.source}\nversion  {estimate.version}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    path = args.file or args.price_book
    if not path:
        raise CommandError("give the price book to check: llmledger prices check FILE")
    book = PriceBook.load(path)
    if args.format == "json":
        _print_json({"ok": True, "file": path, "sha256": book.digest, "models": len(book.models),
                     "discounts": len(book.discounts)})
    else:
        print(f"ok: {path}: {len(book.models)} model entries, {len(book.discounts)} discount rules "
              f"(price-book {book.digest})")
    return 0


def run_reprice(args: argparse.Namespace) -> int:
    from ..pricing.repricing import reprice_on_request
    from .query import QueryError, open_store, post_to_service, running_service

    if not args.dry_run and not args.reason.strip():
        raise CommandError("say why with --reason (it is recorded in repricing_log), or use --dry-run")
    config = config_from_args(args)
    book_path = args.price_book or config.pricing.price_book
    if book_path:
        PriceBook.load(book_path)  # a broken book is reported here, with its line
    body = {"start": args.start.isoformat(), "end": args.end.isoformat(), "model": args.model,
            "dry_run": args.dry_run, "ran_by": args.by or getpass.getuser(), "reason": args.reason.strip(),
            "price_book": {"name": book_path, "text": Path(book_path).read_text(encoding="utf-8")} if book_path
            else None}
    service = None if config.storage.clickhouse_url else running_service(Path(config.storage.data_dir))
    try:
        # While `serve` holds the embedded store the service does it (reads go through /v1/query,
        # changes have their own endpoint); otherwise here, on the store itself.
        result = post_to_service(service, "/v1/reprice", body) if service else reprice_on_request(
            open_store(config), body)
    except (QueryError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    if args.format == "json":
        _print_json({"ok": True, "dry_run": args.dry_run, **{k: _amount(v) if k.startswith("cost") else v
                                                            for k, v in result.items() if k != "models"},
                     "models": [{**m, "cost_before": _amount(m["cost_before"]), "cost_after": _amount(m["cost_after"])}
                                for m in result["models"]]})
        return 0
    rows = [{"model": m["model"], "rows": m["rows"], "before": _amount(m["cost_before"]),
             "after": _amount(m["cost_after"])} for m in result["models"]]
    if rows:
        print(_table(rows, ("model", "rows", "before", "after"), right=("rows", "before", "after")))
        print()
    verb = "would re-price" if args.dry_run else "re-priced"
    print(f"{verb} {result['rows_repriced']} of {result['rows_examined']} calls; "
          f"total {_amount(result['cost_before'])} -> {_amount(result['cost_after'])} USD")
    if result["log_id"]:
        print(f"recorded in repricing_log as {result['log_id']}")
    return 0


# -- formatting ------------------------------------------------------------------------

def _amount(amount: str | None) -> str:
    """An amount of money (exact text), or "n/a" when nothing in it has a price."""
    return "n/a" if amount is None else _plain(Decimal(amount))


def _load_book(path: str | None) -> PriceBook | None:
    return PriceBook.load(path) if path else None


def _plain(amount: Decimal) -> str:
    """A Decimal as plain digits, exactly, without trailing zeros or an exponent."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _rate_text(rate: Rate | None) -> str:
    if rate is None:
        return ""
    return _plain(rate.base) + ("+" if rate.steps else "")


def _rate_cells(rate: Rate) -> dict[str, str]:
    steps = ", ".join(f"{_plain(price)} above {above:,} input tokens" for above, price in rate.steps)
    return {"USD per 1M": _plain(rate.base), "long context": steps}


def _card_row(card: RateCard, provider: str) -> dict[str, Any]:
    row: dict[str, Any] = {"source": card.source, "provider": provider, "model": card.model}
    for name in RATE_COLUMNS:
        row[name] = _rate_text(getattr(card, name))
    row["request"] = _plain(card.request) if card.request is not None else ""
    row["notes"] = "; ".join(card.notes)
    return row


def _card_json(card: RateCard) -> dict[str, Any]:
    rates: dict[str, Any] = {}
    for name in RATE_COLUMNS:
        rate = getattr(card, name)
        if rate is not None:
            rates[name] = {"per_1m": _plain(rate.base),
                           "long_context": [{"above_input_tokens": above, "per_1m": _plain(price)}
                                            for above, price in rate.steps]}
    if card.request is not None:
        rates["request"] = {"per_call": _plain(card.request)}
    return {"source": card.source, "version": card.version, "provider": card.provider, "matched": card.model,
            "rates": rates, "notes": list(card.notes)}


def _bound(ns: int) -> str:
    return "" if ns in (EARLIEST, LATEST) else datetime_from_ns(ns).isoformat()


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...], right: tuple[str, ...] = ()) -> str:
    widths = {c: max(len(c), *(len(str(row.get(c, ""))) for row in rows)) for c in columns}

    def line(cells: dict[str, Any]) -> str:
        parts = [str(cells.get(c, "")).rjust(widths[c]) if c in right else str(cells.get(c, "")).ljust(widths[c])
                 for c in columns]
        return "  ".join(parts).rstrip()

    return "\n".join([line({c: c for c in columns}), *(line(row) for row in rows)])


def _print_json(document: dict[str, Any]) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    sys.exit(main())
