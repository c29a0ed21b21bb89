"""The schema laid out for a ClickHouse cluster (storage/cluster.py). No cluster runs here: every
statement is checked with ClickHouse's own parser (`formatQuery` in chDB), and the layout's
rules are checked on the parser's normalized text."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmledger.processor.cli.schema import render
from llmledger.processor.corrections.sql_files import load_sql as corrections_sql
from llmledger.processor.storage.client import CLUSTER_SESSION_SETTINGS, connect
from llmledger.processor.storage.cluster import (DEDUP_BLOCKS, DEDUP_SECONDS, ON_EVERY_NODE, SHARDED, ClusterLayout,
                                                 NoClusterForm)
from llmledger.processor.storage.migrate import (available_migrations, layout_statements, schema_statements,
                                                 split_statements)
from llmledger.processor.storage.retention import RETENTION_TABLES, _sql as retention_sql

CLUSTER = "llmledger"
SCHEMA_SQL = Path(__file__).resolve().parents[2] / "deploy" / "cluster" / "schema.sql"


@pytest.fixture(scope="module")
def engine(chdb_dir):
    """The embedded ClickHouse: its parser and its settings (no schema is needed)."""
    return connect(data_dir=chdb_dir, database="default")


@pytest.fixture(scope="module")
def formatted(engine):
    """ClickHouse's parser: the statement in its normalized form, or a syntax error."""
    def format_query(sql: str) -> str:
        return engine.query("SELECT formatQuery({q:String})", parameters={"q": sql}).result_rows[0][0]
    return format_query


def _one_node_tables() -> set[str]:
    return {"schema_migrations"} | {
        match.group(1) for _, _, sql in available_migrations() for statement in split_statements(sql)
        if (match := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", statement))}


@pytest.fixture(scope="module")
def cluster_schema(formatted) -> list[str]:
    return [formatted(statement) for _, statements in schema_statements(CLUSTER) for statement in statements]


def _creates(schema: list[str], kind: str = "TABLE") -> dict[str, str]:
    found = {}
    for statement in schema:
        match = re.match(rf"CREATE {kind} (?:IF NOT EXISTS )?(\w+) ON CLUSTER {CLUSTER}\b", statement)
        if match:
            found[match.group(1)] = statement
    return found


def test_every_statement_of_both_layouts_parses(formatted):
    for cluster in (None, CLUSTER):
        for name, statements in schema_statements(cluster):
            for statement in statements:
                formatted(statement)  # raises on a syntax error, naming the position


def test_every_statement_runs_on_the_cluster_and_every_table_is_replicated(cluster_schema):
    for statement in cluster_schema:
        if not statement.startswith("INSERT"):
            assert f" ON CLUSTER {CLUSTER}" in statement.split("\n", 1)[0], statement[:200]
    for name, create in _creates(cluster_schema).items():
        engine = re.search(r"ENGINE = (\w+)", create).group(1)
        assert engine.startswith("Replicated") or engine == "Distributed", (name, engine)
        assert "non_replicated_deduplication_window" not in create


def test_sharded_tables_are_replicated_per_shard_behind_a_distributed_table(cluster_schema):
    tables = _creates(cluster_schema)
    for name, key in SHARDED.items():
        local = tables[f"{name}_local"]
        assert "ENGINE = Replicated" in local and "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'" in local
        distributed = tables[name]
        assert f"AS {name}_local" in distributed
        assert f"ENGINE = Distributed({CLUSTER}, currentDatabase(), {name}_local, {key})" in distributed
        # The key is deterministic, so that a replayed batch splits over the shards as it did the first time.
        assert "rand" not in key
    # Spans and their LLM calls go by trace: a trace and its calls' corrections stay on one shard.
    assert SHARDED["otel_traces"] == "cityHash64(TraceId)" and SHARDED["llm_spans"] == "cityHash64(trace_id)"
    # Small tables read right after they are written are on every node, under one Keeper path.
    for small in ON_EVERY_NODE:
        assert "'/clickhouse/tables/all/{database}/{table}', '{replica}'" in tables[small]
        assert f"{small}_local" not in tables


def test_every_table_of_the_migrations_is_laid_out_and_nothing_else(cluster_schema):
    one_node = _one_node_tables()
    # Each table chose: sharded, or whole on every node; no stale names in either list.
    assert SHARDED.keys() | ON_EVERY_NODE == one_node and not SHARDED.keys() & ON_EVERY_NODE
    # The data the service receives is sharded, whatever migration added its table.
    assert {"otel_traces", "llm_spans", "otel_logs", "otel_metrics_histogram", "llm_savings_hourly",
            "llm_cache_savings_hourly", "llm_cost_daily_users", "llm_cost_daily", "llm_user_cost_daily",
            "llm_tag_cost_daily", "llm_savings_daily"} <= SHARDED.keys()
    assert set(_creates(cluster_schema)) == one_node | {f"{name}_local" for name in SHARDED}


def test_a_table_in_neither_list_is_refused():
    with pytest.raises(NoClusterForm, match="SHARDED .* or ON_EVERY_NODE"):
        LAYOUT.statements("CREATE TABLE IF NOT EXISTS tenant_quotas (tenant String) ENGINE = MergeTree ORDER BY tenant")


def test_dedup_windows_cover_a_replay_on_every_table_that_deduplicates_tokens(cluster_schema):
    one_node = {}
    for _, _, sql in available_migrations():
        for statement in split_statements(sql):
            match = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", statement)
            if match:
                window = re.search(r"non_replicated_deduplication_window = (\d+)", statement)
                one_node[match.group(1)] = int(window.group(1)) if window else 0
    tables = _creates(cluster_schema)
    for name, window in one_node.items():
        create = tables[f"{name}_local" if name in SHARDED else name]
        if window:
            # The seconds matter as much as the blocks: the default is an hour.
            assert f"replicated_deduplication_window = {DEDUP_BLOCKS}" in create, name
            assert f"replicated_deduplication_window_seconds = {DEDUP_SECONDS}" in create, name
        else:
            assert "replicated_deduplication_window = 0" in create, name  # as on one node
    assert one_node["otel_traces"] and one_node["llm_spans"] and one_node["llm_cost_hourly"]


def test_materialized_views_read_and_fill_the_local_tables_of_their_shard(cluster_schema):
    views = _creates(cluster_schema, "MATERIALIZED VIEW")
    one_node_views = {match.group(1) for _, _, sql in available_migrations() for statement in split_statements(sql)
                      if (match := re.match(r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+)", statement))}
    assert set(views) == one_node_views and len(views) >= 6
    for name, view in views.items():
        # Every view of this schema reads spans: it runs on each shard, into that shard's rollup.
        assert re.search(r" TO (\w+)_local\s+AS SELECT", view), (name, view[:120])
        target = re.search(r" TO (\w+)", view).group(1)
        sources = set(re.findall(r"FROM (\w+)", view))
        for source in sources:
            table = source.removesuffix("_local")
            assert (table in SHARDED) == source.endswith("_local"), (name, source)
            if table in SHARDED:
                assert target.endswith("_local"), (name, target)
                # Qualified columns (llm_spans.cost) keep meaning what they did.
                assert f"FROM {source} AS {table}" in view


def test_alters_of_sharded_tables_reach_the_local_tables_and_columns_the_distributed_ones_too(cluster_schema):
    alters = [s for s in cluster_schema if s.startswith("ALTER TABLE")]
    assert len(alters) >= 15
    for statement in alters:
        table = re.match(rf"ALTER TABLE (\w+) ON CLUSTER {CLUSTER}", statement).group(1)
        if table in SHARDED:
            # Indexes, constraints and TTLs belong to the MergeTree tables, not the Distributed one.
            actions = re.findall(r"\b(?:ADD|MODIFY|DROP|CLEAR|MATERIALIZE|REMOVE) (\w+)", statement)
            assert actions and set(actions) == {"COLUMN"}, statement
            assert statement.replace(f"ALTER TABLE {table} ", f"ALTER TABLE {table}_local ", 1) in alters
    # Migration 020's indexes are built on each shard's table.
    assert any(s.startswith(f"ALTER TABLE llm_spans_local ON CLUSTER {CLUSTER}")
               and "ADD INDEX IF NOT EXISTS idx_sign" in s for s in alters)


def test_backfills_go_through_the_distributed_tables_with_their_tokens(cluster_schema):
    inserts = [s for s in cluster_schema if s.startswith("INSERT")]
    assert len(inserts) == 8  # migrations 025, 026, 028 (four daily rollups) and 030 (two)
    for statement in inserts:
        table = re.match(r"INSERT INTO (\w+)", statement).group(1)
        assert table in SHARDED and "insert_deduplication_token = 'migration-" in statement


def test_corrections_and_retention_have_a_cluster_form_that_parses(formatted):
    # A stored span marked as a duplicate: a mutation of the shards' tables (none on a Distributed one).
    (mark,) = layout_statements(corrections_sql("mark_duplicate"), CLUSTER)
    mark = formatted(mark)
    assert mark.startswith(f"ALTER TABLE otel_traces_local ON CLUSTER {CLUSTER}") and "UPDATE SpanAttributes" in mark
    # Cancel rows and repriced versions are inserts into llm_spans, read from it: unchanged.
    for name in ("cancel_call", "cancel_versions", "insert_repriced_versions"):
        (insert,) = layout_statements(corrections_sql(name), CLUSTER)
        assert formatted(insert).startswith("INSERT INTO llm_spans")
    for tables in RETENTION_TABLES.values():
        for table, aged_by in tables:
            sql = retention_sql("retention_modify_ttl").substitute(table=table, aged_by=aged_by, days=30)
            (ttl,) = layout_statements(sql, CLUSTER)
            local = f"{table}_local" if table in SHARDED else table
            assert formatted(ttl).startswith(f"ALTER TABLE {local} ON CLUSTER {CLUSTER}"), ttl


def test_the_cluster_session_settings_are_this_engine_s_settings(engine):
    known = dict(engine.query("SELECT name, type FROM system.settings WHERE name IN {names:Array(String)}",
                              parameters={"names": list(CLUSTER_SESSION_SETTINGS)}).result_rows)
    assert set(known) == set(CLUSTER_SESSION_SETTINGS)


def test_schema_sql_in_deploy_is_the_current_cluster_layout():
    assert SCHEMA_SQL.read_text() == render(CLUSTER), (
        "deploy/cluster/schema.sql is out of date: run "
        "`llmledger schema --cluster llmledger > deploy/cluster/schema.sql`")


def test_schema_sql_statements_parse(formatted):
    text = "\n".join(line for line in SCHEMA_SQL.read_text().splitlines() if not line.startswith("--"))
    statements = [s for s in re.split(r";\s*$", text, flags=re.MULTILINE) if s.strip()]
    assert len(statements) == sum(len(s) for _, s in schema_statements(CLUSTER))
    for statement in statements:
        formatted(statement)


# --- the rewrite rules, one statement at a time ------------------------------------------------------

LAYOUT = ClusterLayout(CLUSTER)


def test_column_changes_reach_the_distributed_table_and_other_alters_only_the_local_ones():
    columns = LAYOUT.statements("ALTER TABLE llm_spans ADD COLUMN IF NOT EXISTS x String DEFAULT 'a,b', "
                                "MODIFY COLUMN y Int64")
    assert columns == [
        f"ALTER TABLE llm_spans_local ON CLUSTER {CLUSTER} ADD COLUMN IF NOT EXISTS x String DEFAULT 'a,b', "
        "MODIFY COLUMN y Int64",
        f"ALTER TABLE llm_spans ON CLUSTER {CLUSTER} ADD COLUMN IF NOT EXISTS x String DEFAULT 'a,b', "
        "MODIFY COLUMN y Int64",
    ]
    assert LAYOUT.statements("ALTER TABLE llm_spans ADD INDEX IF NOT EXISTS i x TYPE set(2) GRANULARITY 1") == [
        f"ALTER TABLE llm_spans_local ON CLUSTER {CLUSTER} ADD INDEX IF NOT EXISTS i x TYPE set(2) GRANULARITY 1"]
    assert LAYOUT.statements("ALTER TABLE llm_spans MODIFY TTL toDateTime(timestamp) + INTERVAL 3 DAY") == [
        f"ALTER TABLE llm_spans_local ON CLUSTER {CLUSTER} MODIFY TTL toDateTime(timestamp) + INTERVAL 3 DAY"]
    assert LAYOUT.statements("ALTER TABLE budgets ADD COLUMN IF NOT EXISTS x String") == [
        f"ALTER TABLE budgets ON CLUSTER {CLUSTER} ADD COLUMN IF NOT EXISTS x String"]
    with pytest.raises(NoClusterForm, match="split it"):
        LAYOUT.statements("ALTER TABLE llm_spans ADD COLUMN x String, ADD INDEX i x TYPE set(2) GRANULARITY 1")


def test_a_view_that_joins_another_table_is_refused_but_array_join_is_fine():
    with pytest.raises(NoClusterForm, match="joins"):
        LAYOUT.statements("CREATE MATERIALIZED VIEW IF NOT EXISTS v TO llm_cost_hourly AS "
                          "SELECT * FROM llm_spans LEFT JOIN budgets ON budgets.id = llm_spans.app")
    (view,) = LAYOUT.statements("CREATE MATERIALIZED VIEW IF NOT EXISTS v TO llm_cost_hourly AS "
                                "SELECT app, x FROM llm_spans ARRAY JOIN [1, 2] AS x")
    assert "FROM llm_spans_local AS llm_spans ARRAY JOIN" in view


def test_a_view_from_a_sharded_table_into_a_table_on_every_node_is_refused():
    # Each shard's view would insert its rows with the batch's token into one replicated table,
    # which keeps the first shard's block and drops the others as duplicates.
    with pytest.raises(NoClusterForm, match="lay them out alike"):
        LAYOUT.statements("CREATE MATERIALIZED VIEW IF NOT EXISTS v TO some_new_rollup AS "
                          "SELECT app, count() AS n FROM llm_spans GROUP BY app")


def test_dropping_a_sharded_table_drops_both_and_unknown_statements_are_refused():
    assert LAYOUT.statements("DROP TABLE IF EXISTS llm_spans") == [
        f"DROP TABLE IF EXISTS llm_spans ON CLUSTER {CLUSTER}", f"DROP TABLE IF EXISTS llm_spans_local ON CLUSTER {CLUSTER}"]
    assert LAYOUT.statements("DROP VIEW IF EXISTS llm_cost_hourly_mv") == [
        f"DROP VIEW IF EXISTS llm_cost_hourly_mv ON CLUSTER {CLUSTER}"]
    with pytest.raises(NoClusterForm, match="no cluster form"):
        LAYOUT.statements("OPTIMIZE TABLE llm_spans FINAL")
    with pytest.raises(ValueError, match="cluster name"):
        ClusterLayout("a cluster; DROP")


def test_every_sharding_key_is_an_expression_of_its_table_s_columns(clickhouse):
    # The Distributed tables evaluate them on every insert; the one-node tables have the same columns.
    for table, key in SHARDED.items():
        clickhouse.query(f"SELECT {key} FROM {table} LIMIT 0")
