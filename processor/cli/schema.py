"""`llmledger schema [--cluster NAME]`: print the DDL that `serve` applies, for one node or laid
out for a ClickHouse cluster (what a DBA applies by hand when the service may not run DDL)."""
from __future__ import annotations

from typing import Any

from ..storage.migrate import schema_statements


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "schema", help="print the store's DDL (for one node, or a cluster)",
        description="Print every statement of the store's schema, in the order `serve` applies them.")
    parser.add_argument("--cluster", help="lay the schema out for this cluster (its name in remote_servers)")
    parser.set_defaults(func=run)


def run(args) -> int:
    print(render(args.cluster), end="")
    return 0


def render(cluster: str | None) -> str:
    where = f"on the ClickHouse cluster {cluster}" if cluster else "on one ClickHouse node"
    lines = [f"-- The llmledger schema {where}, as `llmledger schema"
             f"{f' --cluster {cluster}' if cluster else ''}` prints it.",
             "-- Generated from processor/storage/migrations/ (read the comments there); apply in this order.", ""]
    for name, statements in schema_statements(cluster):
        lines.append(f"-- {name}")
        lines += [f"{statement};\n" for statement in statements]
    return "\n".join(lines)
