"""The `llmledger` command. Each subcommand lives in its own module with a `register(subparsers)`."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Subcommand modules, in the order `llmledger --help` lists them.
COMMANDS = ("serve", "query", "costs", "savings", "alternatives", "anomalies", "budgets", "report", "plot", "prices",
            "keys", "schema", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmledger", description="LLM cost monitoring on OpenTelemetry + ClickHouse")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
