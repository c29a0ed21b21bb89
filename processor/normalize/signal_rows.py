"""What converting one metrics or logs export request gives: rows by table, and what was
rejected (reported to the client as OTLP partial success).

Metrics and logs are stored as they came, in the Collector ClickHouse exporter's tables;
nothing is priced. A record is rejected only when storing it would mislead: a time the
tables' partitions and TTLs would treat wrongly (missing, before 2000, more than a day
ahead: see `validation`), or trace/span ids of the wrong size, which could never be
joined to their span.

A key bound to an app or tenant (auth on) decides the attribution of what it sends, as
for spans: its binding is stamped on the resource attributes (`llmledger.app`,
`llmledger.tenant`), and on a record's own attributes where they claim either.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .conventions import APP_KEY, SERVICE_NAME_KEY, TENANT_KEY
from .validation import EARLIEST_START_NS, MAX_AHEAD_NS

MAX_ERRORS = 10  # enough reasons for a partial_success message; the count says the rest


def stamp_binding(attributes: dict[str, str], principal, *, resource: bool) -> dict[str, str]:
    """`attributes` with the app and tenant a bound key's records count under (see
    `pipeline.Principal.pin`); a record's attributes only where they name either."""
    if principal is None or not principal.bound:
        return attributes
    if not resource and APP_KEY not in attributes and TENANT_KEY not in attributes:
        return attributes
    app, tenant = principal.pin(attributes.get(APP_KEY) or attributes.get(SERVICE_NAME_KEY, ""),
                                attributes.get(TENANT_KEY, ""))
    stamped = {**attributes, APP_KEY: app}
    if tenant:
        stamped[TENANT_KEY] = tenant
    else:
        stamped.pop(TENANT_KEY, None)  # a key bound to an app alone: its records claim no tenant
    return stamped


@dataclass(slots=True)
class Converted:
    tables: dict[str, list[list]] = field(default_factory=dict)  # table -> rows in its column order
    accepted: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, table: str, row: list) -> None:
        self.tables.setdefault(table, []).append(row)
        self.accepted += 1

    def reject(self, what: str, problem: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"{what}: {problem}")


def time_problem(time_ns: int, now_ns: int) -> str | None:
    if not time_ns:
        return "time is missing"
    if time_ns < EARLIEST_START_NS:
        return "time is before 2000-01-01"
    if time_ns > now_ns + MAX_AHEAD_NS:
        return "time is more than a day in the future"
    return None


def ids_problem(trace_id: bytes, span_id: bytes) -> str | None:
    """Ids may be absent (a record outside any span); present, they must have their size."""
    if trace_id and len(trace_id) != 16:
        return f"trace id must be 16 bytes, got {len(trace_id)}"
    if span_id and len(span_id) != 8:
        return f"span id must be 8 bytes, got {len(span_id)}"
    return None
