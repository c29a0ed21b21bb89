"""Ad-hoc SQL (`llmledger query`, /v1/query) is read-only by construction.

Three layers, checked before the query runs:
- ClickHouse's own parser (`EXPLAIN AST`) says what the statement is. Only SELECT, SHOW,
  DESCRIBE, EXISTS and EXPLAIN of those pass: INSERT, ALTER, DROP, SYSTEM, KILL, and SET
  and USE (which would change the session for every later query) are refused.
- What reaches outside the store is refused wherever it appears: table functions on files,
  URLs, object stores, other servers and programs (all of ClickHouse's table functions but
  a few that only compute), the `file()` function, and `INTO OUTFILE`.
- The query itself runs with `readonly=1`, so the engine refuses any write it would make.

Administrative changes have their own commands (`llmledger budgets`, `llmledger prices`, …).
"""
from __future__ import annotations

import threading

from clickhouse_connect.driver.client import Client

READ_ONLY_SETTINGS = {"readonly": 1}

# Statement kinds, as EXPLAIN AST names them (ShowTables, ShowCreateTableQuery, DescribeQuery…).
_READING_STATEMENTS = ("Select", "Show", "Describe", "Exists", "Explain")

# Table functions that only compute or read tables of this store.
_SAFE_TABLE_FUNCTIONS = frozenset({
    "numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series", "generateseries", "generaterandom",
    "values", "sqlstandardvalues", "view", "viewifpermitted", "viewexplain", "merge", "null", "format", "primes",
})
# Ordinary functions that read the file system.
_OUTSIDE_FUNCTIONS = frozenset({"file"})


class QueryRefused(ValueError):
    """The query would change the store, the session, or reach outside it."""


class _OutsideFunctions:
    """The lowercase names of the functions refused, learnt once from the engine itself, so
    that a table function a newer ClickHouse adds is refused until it is known to be safe."""

    def __init__(self) -> None:
        self._names: frozenset[str] | None = None
        self._lock = threading.Lock()

    def get(self, client: Client) -> frozenset[str]:
        with self._lock:
            if self._names is None:
                rows = client.query("SELECT name FROM system.table_functions", settings=READ_ONLY_SETTINGS)
                table_functions = {row[0].lower() for row in rows.result_rows}
                self._names = frozenset(table_functions - _SAFE_TABLE_FUNCTIONS) | _OUTSIDE_FUNCTIONS
            return self._names


_outside = _OutsideFunctions()


def check_read_only(client: Client, sql: str, parameters: dict | None = None) -> None:
    """Raise QueryRefused unless `sql` is one statement that only reads this store."""
    result = client.query(f"EXPLAIN AST {sql}", parameters=parameters or None, settings=READ_ONLY_SETTINGS)
    lines = [row[0] for row in result.result_rows]
    outside = _outside.get(client)
    nodes = [(len(line) - len(line.lstrip(" ")), line.split()) for line in lines if line.strip()]
    _check_statement(nodes, 0)
    for _, words in nodes:
        if words[0] == "Function" and len(words) > 1 and words[1].lower() in outside:
            raise QueryRefused(f"{words[1]}() reaches outside the store; /v1/query only reads its tables")


def _check_statement(nodes: list[tuple[int, list[str]]], index: int) -> None:
    depth, words = nodes[index]
    kind = words[0]
    if not kind.startswith(_READING_STATEMENTS):
        raise QueryRefused(f"only SELECT, SHOW, DESCRIBE, EXISTS and EXPLAIN run here, not {kind}; "
                           "administrative changes have their own commands")
    children = []
    for i in range(index + 1, len(nodes)):
        if nodes[i][0] <= depth:
            break
        if nodes[i][0] == depth + 1:
            children.append(i)
    for child in children:
        if nodes[child][1][0] == "Literal":  # a statement's own literal is the file of INTO OUTFILE
            raise QueryRefused("INTO OUTFILE writes a file; /v1/query only reads")
    if kind == "Explain" and children:
        _check_statement(nodes, children[0])
