"""The schema on a ClickHouse cluster: the numbered migrations, rewritten statement by statement.

One definition of the schema, two layouts. With `storage.cluster` set, the migrator runs
every statement through `ClusterLayout.statements`, which makes of it what a sharded, replicated
cluster needs:

- A table that receives spans, logs or metrics (`SHARDED`, with its sharding key) becomes
  `<name>_local`, a Replicated* table on every shard (`ON CLUSTER`), plus `<name>`, a
  Distributed table over them. The service and every reader keep using `<name>`.
- The small tables (`ON_EVERY_NODE`: budgets, alert claims, the migration log ...) are read
  right after they are written: they are replicated to every node, not sharded, so each
  node reads its own copy and an alert claim is decided by ClickHouse Keeper across all.
  A table in neither list is refused: a new migration's table must choose.
- A materialized view hangs on the local table of its source, on every node, and fills
  the local table of its target: a shard's rollups sum that shard's calls, and reads
  through the Distributed table add the shards up. Source and target must be laid out
  alike (a view from a sharded table into a table on every node would receive the same
  insert token from each shard and keep only one shard's rows).
- Views, drops and ALTERs run `ON CLUSTER`; column changes reach the Distributed table too.

Deduplication: replicated tables deduplicate inserts by default (identical blocks, or one
`insert_deduplication_token`) within `replicated_deduplication_window` blocks *and*
`replicated_deduplication_window_seconds` (an hour by default). A replay must fall inside
both, also while the other processors keep inserting: tables that deduplicate tokens on
one node get DEDUP_BLOCKS and DEDUP_SECONDS; tables that do not get a window of 0, so
that they behave as on one node.

Sharding keys are deterministic (never `rand()`): a replayed batch must split across the
shards exactly as the first attempt did, or its blocks would not match and count twice.
Spans go by trace id, so a trace, its LLM calls and their corrections live on one shard.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .client import validate_identifier

# Tables that receive spans, logs or metrics, and how their rows are spread over the shards.
SHARDED: dict[str, str] = {
    "otel_traces": "cityHash64(TraceId)",
    "otel_traces_trace_id_ts": "cityHash64(TraceId)",
    # A call's versions (corrections, migration 020) share its trace id: they meet on one shard.
    "llm_spans": "cityHash64(trace_id)",
    # A GenAI event next to its call; logs outside any trace spread by time.
    "otel_logs": "cityHash64(TraceId, Timestamp)",
    # One series (service, metric, attributes) on one shard.
    **{f"otel_metrics_{kind}": "cityHash64(ServiceName, MetricName, cityHash64(Attributes))"
       for kind in ("gauge", "sum", "histogram", "exponential_histogram", "summary")},
    # Rollups are filled by views on each shard; the key places rows inserted directly (backfills).
    "llm_cost_hourly": "cityHash64(hour, app)",
    "llm_cost_daily_by_user": "cityHash64(day, user_id)",
    "llm_cache_savings_hourly": "cityHash64(hour, app)",
    "llm_cost_daily_users": "cityHash64(day, user_id)",
    "llm_savings_hourly": "cityHash64(hour, app)",
    "llm_cost_daily": "cityHash64(day, app)",
    "llm_user_cost_daily": "cityHash64(day, user_id)",
    "llm_tag_cost_daily": "cityHash64(day, tag_name, tag_value)",
    "llm_savings_daily": "cityHash64(day, app)",
    "llm_app_model_hourly": "cityHash64(hour, app)",
    "llm_cost_histogram_daily": "cityHash64(day, app)",
}
LOCAL_SUFFIX = "_local"

# Small tables, whole on every node.
ON_EVERY_NODE: frozenset[str] = frozenset({
    "schema_migrations", "budgets", "budget_alerts", "notification_deliveries", "notification_claims",
    "retention_applied", "repricing_log",
})

# At 50,000 spans/s into each of two processors, inserts of 20,000 spans make about five blocks
# a second per table and shard: 100,000 blocks are five hours. A processor that dies with a
# batch in flight must be back within that to replay it without counting it twice.
DEDUP_BLOCKS = 100_000
DEDUP_SECONDS = 7 * 86_400

# Keeper paths: one per shard for sharded tables, one for the whole cluster otherwise.
# {shard} and {replica} are each server's macros; {database} and {table} ClickHouse's own.
SHARDED_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
EVERYWHERE_PATH = "/clickhouse/tables/all/{database}/{table}"

_NAME = r"([A-Za-z_][A-Za-z0-9_]*)"
_CREATE_TABLE = re.compile(rf"^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}\b", re.I)
_CREATE_MV = re.compile(rf"^CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}\s+TO\s+{_NAME}\s+AS\b", re.I)
_CREATE_VIEW = re.compile(rf"^CREATE\s+(OR\s+REPLACE\s+)?VIEW\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}\b", re.I)
_ALTER = re.compile(rf"^ALTER\s+TABLE\s+{_NAME}\b", re.I)
_DROP = re.compile(rf"^DROP\s+(TABLE|VIEW)\s+(IF\s+EXISTS\s+)?{_NAME}\b", re.I)
_CREATE_DATABASE = re.compile(rf"^CREATE\s+DATABASE\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}\b", re.I)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing|)MergeTree"
                     r"(?:\s*\(([^()]*)\))?", re.I)
_SETTINGS = re.compile(r"\bSETTINGS\b", re.I)
_NON_REPLICATED_WINDOW = re.compile(r"\bnon_replicated_deduplication_window\s*=\s*(\d+)", re.I)
_COLUMN_ACTION = re.compile(r"^(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b", re.I)


class NoClusterForm(ValueError):
    """A statement the cluster layout does not know how to rewrite (say which, and why)."""


@dataclass(frozen=True, slots=True)
class ClusterLayout:
    """`cluster` as named in the servers' `remote_servers`."""

    cluster: str

    def __post_init__(self):
        validate_identifier(self.cluster, "cluster name")

    def statements(self, statement: str) -> list[str]:
        """What `statement` (one statement of a migration) becomes on the cluster, in order."""
        text = statement.strip().rstrip(";").strip()
        for pattern, rewrite in ((_CREATE_TABLE, self._table), (_CREATE_MV, self._materialized_view),
                                 (_CREATE_VIEW, self._view), (_ALTER, self._alter), (_DROP, self._drop),
                                 (_CREATE_DATABASE, self._database)):
            match = pattern.match(text)
            if match:
                return rewrite(text, match)
        if re.match(r"^INSERT\s+INTO\b", text, re.I):
            return [text]  # into the Distributed table (split by its key) or the table on every node
        raise NoClusterForm(f"no cluster form for this statement (add one to storage/cluster.py): {text[:120]}")

    # --- one rewrite per kind of statement -----------------------------------------------------------

    def _table(self, text: str, match: re.Match) -> list[str]:
        name = match.group(2)
        engine = _ENGINE.search(text)
        if engine is None:
            raise NoClusterForm(f"table {name}: only MergeTree-family tables can be replicated")
        sharded = name in SHARDED
        if not sharded and name not in ON_EVERY_NODE:
            raise NoClusterForm(f"table {name}: list it in SHARDED (with its sharding key) or ON_EVERY_NODE")
        local = name + LOCAL_SUFFIX if sharded else name
        path = SHARDED_PATH if sharded else EVERYWHERE_PATH
        arguments = ", ".join([f"'{path}'", "'{replica}'", *([engine.group(2).strip()] if engine.group(2)
                                                                  and engine.group(2).strip() else [])])
        replicated = f"ENGINE = Replicated{engine.group(1)}MergeTree({arguments})"
        body = text[match.end():engine.start()] + replicated + text[engine.end():]
        create = f"CREATE TABLE {match.group(1) or ''}{local} ON CLUSTER {self.cluster}{_dedup_settings(body)}"
        if not sharded:
            return [create]
        distributed = (f"CREATE TABLE {match.group(1) or ''}{name} ON CLUSTER {self.cluster} AS {local} "
                       f"ENGINE = Distributed({self.cluster}, currentDatabase(), {local}, {SHARDED[name]})")
        return [create, distributed]

    def _materialized_view(self, text: str, match: re.Match) -> list[str]:
        name, target = match.group(2), match.group(3)
        select = text[match.end():]
        sources = set(re.findall(rf"\bFROM\s+{_NAME}", select, re.I))  # a subquery's "FROM (" is no name
        if re.search(r"(?<!ARRAY)\s+JOIN\b", select, re.I):  # ARRAY JOIN unfolds a row: no other table
            raise NoClusterForm(f"materialized view {name} joins: a shard's view would see only its own rows")
        for source in sources:
            if (source in SHARDED) != (target in SHARDED):
                raise NoClusterForm(
                    f"materialized view {name} fills {target} from {source}: lay them out alike "
                    f"(list {target if source in SHARDED else source} in SHARDED, or neither)")
        for source in sources & SHARDED.keys():
            # The alias keeps the view's qualified column names (llm_spans.cost) meaning what they did.
            select = re.sub(rf"\bFROM\s+{source}\b(\s+AS\s+\w+)?",
                            lambda m, s=source: f"FROM {s}{LOCAL_SUFFIX}" + (m.group(1) or f" AS {s}"),
                            select, flags=re.I)
        into = target + LOCAL_SUFFIX if target in SHARDED else target
        return [f"CREATE MATERIALIZED VIEW {match.group(1) or ''}{name} ON CLUSTER {self.cluster} TO {into} AS{select}"]

    def _view(self, text: str, match: re.Match) -> list[str]:
        return [_insert_after(text, match, f" ON CLUSTER {self.cluster}")]

    def _alter(self, text: str, match: re.Match) -> list[str]:
        name = match.group(1)
        actions = text[match.end():]
        if name not in SHARDED:
            return [f"ALTER TABLE {name} ON CLUSTER {self.cluster}{actions}"]
        local = f"ALTER TABLE {name}{LOCAL_SUFFIX} ON CLUSTER {self.cluster}{actions}"
        kinds = {bool(_COLUMN_ACTION.match(action)) for action in _top_level_split(actions)}
        if kinds == {False}:
            return [local]  # indexes, constraints, TTLs, settings: the local tables' business
        if kinds == {True}:
            return [local, f"ALTER TABLE {name} ON CLUSTER {self.cluster}{actions}"]
        raise NoClusterForm(f"ALTER TABLE {name} mixes column changes with others: "
                            "split it, since only the columns apply to the Distributed table too")

    def _drop(self, text: str, match: re.Match) -> list[str]:
        kind, if_exists, name = match.group(1).upper(), match.group(2) or "", match.group(3)
        rest = text[match.end():]
        dropped = [f"DROP {kind} {if_exists}{name} ON CLUSTER {self.cluster}{rest}"]
        if kind == "TABLE" and name in SHARDED:
            dropped.append(f"DROP TABLE {if_exists}{name}{LOCAL_SUFFIX} ON CLUSTER {self.cluster}{rest}")
        return dropped

    def _database(self, text: str, match: re.Match) -> list[str]:
        return [_insert_after(text, match, f" ON CLUSTER {self.cluster}")]


def _insert_after(text: str, match: re.Match, insertion: str) -> str:
    return text[:match.end()] + insertion + text[match.end():]


def _dedup_settings(body: str) -> str:
    """The table's SETTINGS with the one-node dedup window replaced by the replicated one."""
    window = _NON_REPLICATED_WINDOW.search(body)
    if window and int(window.group(1)) > 0:
        replicated = (f"replicated_deduplication_window = {DEDUP_BLOCKS}, "
                      f"replicated_deduplication_window_seconds = {DEDUP_SECONDS}")
    else:
        replicated = "replicated_deduplication_window = 0"  # as on one node: identical blocks are both kept
    if window:
        return body[:window.start()] + replicated + body[window.end():]
    if _SETTINGS.search(body):
        return _SETTINGS.sub(f"SETTINGS {replicated},", body, count=1)
    return f"{body.rstrip()}\nSETTINGS {replicated}"


def _top_level_split(text: str) -> list[str]:
    """`text` split at the commas outside parentheses and quotes, each part stripped."""
    parts, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(text):
        if quote:
            if char == quote and text[index - 1] != "\\":
                quote = ""
        elif char in "'`\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [part for part in parts if part]

