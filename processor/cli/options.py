"""Options shared by several subcommands, and turning them into a Config."""
from __future__ import annotations

import argparse
import os
import sys

from ..config import Config, ConfigError, load_config


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=os.environ.get("LLMLEDGER_CONFIG"),
                        help="YAML config file (env LLMLEDGER_CONFIG)")
    parser.add_argument("--data-dir", help="where the embedded store and the log live (env LLMLEDGER_DATA_DIR, "
                                           "default ./llmledger-data)")
    parser.add_argument("--clickhouse-url", help="a ClickHouse server instead of the embedded store "
                                                 "(env LLMLEDGER_CLICKHOUSE_URL)")


def config_from_args(args: argparse.Namespace, **extra: tuple[str, str]) -> Config:
    """Load the config, with the flags that were given on top. Exits with the error on a bad config."""
    overrides = {("storage", "data_dir"): args.data_dir, ("storage", "clickhouse_url"): args.clickhouse_url}
    for attr, key in extra.items():
        overrides[key] = getattr(args, attr)
    try:
        return load_config(args.config, overrides=overrides)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"llmledger: config error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None
