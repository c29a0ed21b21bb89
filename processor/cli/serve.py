"""`llmledger serve`: run the service."""
from __future__ import annotations

import asyncio
import sys

from .options import add_store_options, config_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="receive OTLP, price LLM calls, store them in ClickHouse")
    add_store_options(parser)
    parser.add_argument("--http-port", type=int, help="OTLP/HTTP and API port (env LLMLEDGER_HTTP_PORT, default 4318)")
    parser.add_argument("--grpc-port", type=int, help="OTLP/gRPC port (env LLMLEDGER_GRPC_PORT, default 4317)")
    parser.add_argument("--price-book", help="YAML price book (env LLMLEDGER_PRICE_BOOK)")
    parser.add_argument("--budgets", help="YAML budgets file (env LLMLEDGER_BUDGETS)")
    parser.set_defaults(func=run)


def run(args) -> int:
    config = config_from_args(args, http_port=("http", "port"), grpc_port=("grpc", "port"),
                              price_book=("pricing", "price_book"), budgets=("budgets", "file"))
    from ..budgets import BudgetFileError
    from ..pricing import PriceBookError
    from ..service import Service
    from ..storage.client import StoreUnavailable
    from ..wal import LogInUse

    try:
        service = Service(config)
        asyncio.run(service.run())
    except LogInUse:
        print(f"llmledger: another `llmledger serve` is running on {config.storage.data_dir}; "
              "use `llmledger query` to ask it, or give this one its own --data-dir", file=sys.stderr)
        return 1
    except (PriceBookError, BudgetFileError, StoreUnavailable, OSError) as exc:
        print(f"llmledger: {exc}", file=sys.stderr)
        return 1
    return 0
