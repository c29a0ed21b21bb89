"""`llmledger query "SQL"`: ask the store, also while `serve` holds the embedded one.

chDB lets one process open a data directory. When a service is running on it (its
service file names the process and where it listens), the query goes to that service;
otherwise the store is opened here.
"""
from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from .options import add_store_options, config_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser("query", help="run SQL against the store")
    parser.add_argument("sql", help="the SQL to run, e.g. \"SELECT app, sum(cost) FROM llm_spans GROUP BY app\"")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    add_store_options(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    config = config_from_args(args)
    from ..query import format_rows

    try:
        columns, rows = open_runner(config)(args.sql)
    except QueryError as exc:
        print(f"llmledger: {exc}", file=sys.stderr)
        return 1
    print(format_rows(columns, rows, args.format))
    return 0


class QueryError(Exception):
    pass


Runner = Callable[..., "tuple[list[str], list[list]]"]


def open_runner(config) -> Runner:
    """A function `(sql, parameters=None) -> (columns, rows)` for CLI commands: it asks the
    running service when one holds the embedded store, else the store itself. Rows are
    JSON-safe (Decimals as exact text). Raises QueryError with a readable message."""
    if not config.storage.clickhouse_url:
        service = running_service(Path(config.storage.data_dir))
        if service:
            return lambda sql, parameters=None: query_service(service, sql, parameters)
    client = None

    def run_direct(sql: str, parameters: dict | None = None):
        nonlocal client
        if client is None:
            client = open_store(config)
        return _query_client(client, sql, parameters)

    return run_direct


def running_service(data_dir: Path) -> dict | None:
    """The service file of a live `llmledger serve` on this data directory, if there is one."""
    from ..service import SERVICE_FILE

    try:
        info = json.loads((data_dir / SERVICE_FILE).read_text())
        os.kill(info["pid"], 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info


def query_service(service: dict, sql: str, parameters: dict | None = None) -> tuple[list, list]:
    body = post_to_service(service, "/v1/query", {"sql": sql, "parameters": parameters})
    return body["columns"], body["rows"]


def post_to_service(service: dict, path: str, document: dict) -> dict:
    """POST `document` to the running service's admin endpoint `path`; its JSON answer.
    Raises QueryError with the service's message."""
    request = urllib.request.Request(
        service["http"] + path, data=json.dumps(document).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {service['token']}"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        raise QueryError(message) from None
    except OSError as exc:
        raise QueryError(f"cannot reach the running service at {service['http']}: {exc}") from None


def open_store(config):
    """The store for a command other than `serve`, which alone creates one: a data directory
    or database that is not there is a QueryError saying where it looked."""
    from ..storage.client import StoreUnavailable, connect
    from ..storage.migrate import migrate

    try:
        client = connect(data_dir=Path(config.storage.data_dir), url=config.storage.clickhouse_url,
                         database=config.storage.database, create=False, cluster=config.storage.cluster)
        if not client.command("EXISTS TABLE schema_migrations"):
            raise QueryError(f"the database {config.storage.database!r} holds no llmledger tables: "
                             "`llmledger serve` creates them")
        migrate(client, config.storage.cluster)  # a store an older version made answers with today's views
        return client
    except StoreUnavailable as exc:
        raise QueryError(str(exc)) from None


def _query_client(client, sql: str, parameters: dict | None) -> tuple[list, list]:
    from ..query import run_query

    try:
        return run_query(client, sql, parameters)
    except Exception as exc:  # the driver's errors for a bad query
        raise QueryError(str(exc).strip()) from None
