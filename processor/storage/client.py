"""Connecting to ClickHouse: embedded chDB at a data directory, or a server by URL.

Both give a clickhouse-connect client with the same API, so the same SQL runs on both.
chDB allows one process per data directory: the service owns it, and other commands
talk to the running service instead (see `llmledger.processor.cli.query`).
"""
from __future__ import annotations

import re
import struct
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DataError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class StoreUnavailable(Exception):
    """The store cannot be opened or reached; the message says why and what to do."""


# ClickHouse errors that say the rows themselves cannot be stored: the same rows fail the same
# way however often they are sent. Every other error (a full disk, NOT_ENOUGH_SPACE; too many
# parts; memory; timeouts; the network; a table detached or being repaired; missing grants) is
# the store being unable for now, and is waited out: retrying those never loses anything.
_DATA_ERRORS = frozenset({
    "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE", "CANNOT_PARSE_QUOTED_STRING",
    "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER",
    "CANNOT_PARSE_UUID", "CANNOT_PARSE_BOOL", "UNEXPECTED_DATA_AFTER_PARSED_VALUE", "TYPE_MISMATCH",
    "CANNOT_CONVERT_TYPE", "ARGUMENT_OUT_OF_BOUND", "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE", "DECIMAL_OVERFLOW",
    "INCORRECT_DATA", "TOO_LARGE_STRING_SIZE", "TOO_LARGE_ARRAY_SIZE", "SIZES_OF_ARRAYS_DONT_MATCH",
    "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN", "VIOLATED_CONSTRAINT",
})
_ERROR_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")


def is_data_rejection(exc: BaseException) -> bool:
    """True when the store refused these rows for what they hold (they would fail again), False
    when it could not take them now. Values the driver cannot encode into their column types
    (a number out of range) are rejections too; other driver and network errors are not."""
    if isinstance(exc, (DataError, OverflowError, struct.error, UnicodeError)):
        return True
    return not _DATA_ERRORS.isdisjoint(_ERROR_NAME.findall(str(exc)))


def validate_identifier(name: str, what: str = "identifier") -> str:
    """Database and table names come from config and end up in SQL text: allow plain names only."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"invalid {what} {name!r}: use letters, digits and underscores")
    return name


_SECRET_PARAMETERS = {"password", "pass", "key", "token", "secret", "access_token"}


def redact_url(url: str) -> str:
    """The URL as it may be shown (banners, errors, /readyz): its password, and any
    password-like query parameter, replaced by ***."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = f"{parts.username or ''}:***@{netloc.rsplit('@', 1)[1]}"
        query = urlencode([(k, "***" if k.lower() in _SECRET_PARAMETERS else v)
                           for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not even a URL: show none of it
        return "<ClickHouse URL>"


def embedded_path(data_dir: Path) -> Path:
    return Path(data_dir) / "clickhouse"


# Every session of the service on a cluster. An insert into a Distributed table returns once
# every shard has its rows (so the log is committed only then, and a replay meets each shard's
# deduplication); an IN or JOIN subquery over a Distributed table is computed once over all
# shards and sent to each, which gives the answer one node gives (the default refuses such
# queries: the current-call views and the corrections have them).
CLUSTER_SESSION_SETTINGS: dict[str, object] = {"distributed_foreground_insert": 1, "distributed_product_mode": "global"}


def connect(*, data_dir: Path, url: str | None = None, database: str = "llmledger", create: bool = True,
            cluster: str | None = None) -> Client:
    """Open the store and make sure `database` exists (on every node of `cluster`, if given);
    the client's queries run in it. With `create=False` (every command but `serve`) a store or
    database that is not there is an error: a mistyped path must not answer from a new, empty store."""
    validate_identifier(database, "database name")
    on_cluster = f" ON CLUSTER {validate_identifier(cluster, 'cluster name')}" if cluster else ""
    where = redact_url(url) if url else f"embedded store at {embedded_path(data_dir)}"
    if not url and not create:
        _require_embedded_store(Path(data_dir))
    try:
        if url:
            admin = clickhouse_connect.get_client(dsn=url)
        else:
            path = embedded_path(data_dir)
            if create:
                path.mkdir(parents=True, exist_ok=True)
            admin = clickhouse_connect.get_client(interface="chdb", path=str(path))
        if create:
            admin.command(f"CREATE DATABASE IF NOT EXISTS {database}{on_cluster}")
        else:
            exists = admin.query("SELECT count() FROM system.databases WHERE name = {name:String}",
                                 parameters={"name": database}).result_rows[0][0]
    except Exception as exc:  # the drivers raise many types; all mean "cannot use the store"
        raise StoreUnavailable(f"cannot open ClickHouse ({where}): {exc}") from exc
    if not create and not exists:
        raise StoreUnavailable(f"the {where} has no database {database!r}")
    admin.database = database
    if cluster:
        for name, value in CLUSTER_SESSION_SETTINGS.items():
            admin.set_client_setting(name, value)
    return admin


def _require_embedded_store(data_dir: Path) -> None:
    """chDB creates a store wherever it is pointed: look before opening."""
    if not data_dir.is_dir():
        raise StoreUnavailable(f"no data directory at {data_dir.absolute()}: give the one `llmledger serve` uses "
                               "(--data-dir, LLMLEDGER_DATA_DIR or storage.data_dir)")
    if not embedded_path(data_dir).is_dir():
        raise StoreUnavailable(f"the data directory {data_dir.absolute()} holds no store "
                               f"(no {embedded_path(data_dir).name}/ in it): `llmledger serve` creates one")
