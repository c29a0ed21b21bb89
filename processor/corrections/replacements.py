"""A stored call replaced by a later span of the same call that records it better."""
from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from ..storage.migrate import layout_statements
from .sql_files import load_sql


@dataclass(frozen=True, slots=True)
class Replacement:
    trace_id: str
    span_id: str
    keeper_trace_id: str
    keeper_span_id: str


def apply_replacements(client: Client, replacements: list[Replacement], cluster: str | None = None) -> None:
    """Cancel each replaced call's row and mark its span as a duplicate. Idempotent: a
    replayed batch applies them again to no effect. Run after the batch that holds the
    keepers is written, so that every cancelled row is in the store. On a `cluster` the
    mutation runs on the shards' tables (a Distributed table has no mutations)."""
    (mark_duplicate,) = layout_statements(load_sql("mark_duplicate"), cluster)
    for replacement in replacements:
        parameters = {"trace_id": replacement.trace_id, "span_id": replacement.span_id,
                      "keeper_trace_id": replacement.keeper_trace_id, "keeper_span_id": replacement.keeper_span_id}
        client.command(load_sql("cancel_call"), parameters=parameters)
        client.command(mark_duplicate, parameters=parameters)
