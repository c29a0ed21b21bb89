"""Running ad-hoc SQL for people: results as JSON-safe rows, and as a table, JSON or CSV.

Decimal values (costs) travel as their exact text, never as floats."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from uuid import UUID

from clickhouse_connect.driver.client import Client

from .query_guard import READ_ONLY_SETTINGS, check_read_only


def run_query(client: Client, sql: str, parameters: dict | None = None) -> tuple[list[str], list[list]]:
    """Run one read-only statement (see query_guard); raises QueryRefused for anything else."""
    check_read_only(client, sql, parameters)
    result = client.query(sql, parameters=parameters or None, settings=READ_ONLY_SETTINGS)
    return list(result.column_names), [[json_safe(v) for v in row] for row in result.result_rows]


def json_safe(value):
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (UUID, IPv4Address, IPv6Address)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(json_safe(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def format_rows(columns: list[str], rows: list[list], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([dict(zip(columns, row)) for row in rows], indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        return out.getvalue().rstrip("\n")
    return _table(columns, rows)


def _cell(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _table(columns: list[str], rows: list[list]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [bool(cells) and all(_looks_numeric(r[i]) for r in cells) for i in range(len(columns))]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(columns), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def _looks_numeric(text: str) -> bool:
    try:
        Decimal(text)
        return True
    except ArithmeticError:
        return text == "NULL"
