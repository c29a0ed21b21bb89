"""Applies the numbered SQL files in `migrations/` that the store has not seen yet.

Each file is a list of statements separated by `;` at the end of a line. Applied versions
are recorded in `schema_migrations`; statements are idempotent (IF NOT EXISTS) so two
processors starting at once do no harm. On a cluster (`storage.cluster`) each statement is
first rewritten for it (see `cluster`).
"""
from __future__ import annotations

import logging
import re
from importlib import resources

from clickhouse_connect.driver.client import Client

from .cluster import ClusterLayout

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL text) for every migration shipped with the package, in order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def split_statements(sql: str) -> list[str]:
    without_comments = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", without_comments, flags=re.MULTILINE) if s.strip()]


_MIGRATIONS_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
                     "applied_at DateTime DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version")


def layout_statements(sql: str, cluster: str | None = None) -> list[str]:
    """The statements of `sql` as they run on one node, or on `cluster`."""
    statements = split_statements(sql)
    if cluster is None:
        return statements
    layout = ClusterLayout(cluster)
    return [rewritten for statement in statements for rewritten in layout.statements(statement)]


def schema_statements(cluster: str | None = None) -> list[tuple[str, list[str]]]:
    """(file name, statements) of the whole schema, the migrations' own table first."""
    return [("schema_migrations", layout_statements(_MIGRATIONS_TABLE, cluster)),
            *((name, layout_statements(sql, cluster)) for _, name, sql in available_migrations())]


def migrate(client: Client, cluster: str | None = None) -> list[str]:
    """Bring the schema up to date; returns the names of the files applied now."""
    for statement in layout_statements(_MIGRATIONS_TABLE, cluster):
        client.command(statement)
    done = {row[0] for row in client.query("SELECT version FROM schema_migrations FINAL").result_rows}
    applied = []
    for version, name, sql in available_migrations():
        if version in done:
            continue
        for statement in layout_statements(sql, cluster):
            client.command(statement)
        client.insert("schema_migrations", [[version, name]], column_names=["version", "name"])
        log.info("applied migration %s", name)
        applied.append(name)
    return applied
