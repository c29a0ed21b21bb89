"""How analytics reach the store, and turning what comes back into Python values.

A runner is a function `run(sql, parameters) -> (columns, rows)`. Two kinds exist: one on
a clickhouse-connect client (typed values: Decimal, datetime), and the CLI's, which may go
through the running service and gets JSON-safe values (Decimal and datetimes as text).
The converters below accept both, so every API function gives the same Python results
whichever runner it was handed.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Callable

Runner = Callable[..., "tuple[list[str], list[list]]"]


def runner_for_client(client) -> Runner:
    """A runner on a clickhouse-connect client (embedded chDB or a server)."""

    def run(sql: str, parameters: dict | None = None) -> tuple[list[str], list[list]]:
        result = client.query(sql, parameters=parameters or None)
        return list(result.column_names), [list(row) for row in result.result_rows]

    return run


def fetch(run: Runner, sql: str, parameters: dict | None = None) -> list[dict]:
    """Rows as dicts keyed by column name."""
    columns, rows = run(sql, parameters)
    return [dict(zip(columns, row)) for row in rows]


def as_decimal(value) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return Decimal(value)
    # A float here would mean a cost lost its exactness on the way: refuse it.
    raise TypeError(f"expected an exact decimal amount, got {type(value).__name__} {value!r}")


def as_moment(value) -> datetime:
    """An instant as an aware UTC datetime. Times without a zone are UTC: the analytics
    SQL hands every time out in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a date and time, got {type(value).__name__} {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def as_day(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    raise TypeError(f"expected a date, got {type(value).__name__} {value!r}")
