"""How long each table keeps its rows: the `retention:` section of the config, in days
(0 keeps them forever), applied to the tables' TTLs when `serve` opens the store.

A TTL is changed (ALTER TABLE … MODIFY TTL, or REMOVE TTL) only when the configured days
differ from the ones last applied, as recorded in `retention_applied`: changing it makes
ClickHouse rewrite the table's parts in the background, so an unchanged config costs
nothing. Replicas sharing a store should share the retention config too.

Rows age by their own time (the span's, the hour's, the alert window's end), so rollups,
which keep their rows longer than llm_spans by default, answer for ranges whose calls are
gone: by design, reports over old ranges come from the rollups alone.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from importlib import resources
from string import Template

from clickhouse_connect.driver.client import Client

from .migrate import layout_statements

log = logging.getLogger(__name__)

# retention setting -> (table, the time its rows age by). One line per table: a new table
# joins the key whose rows it holds, or a new key in config.SETTINGS["retention"].
RETENTION_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    # The raw telemetry as received: spans, and the log records and metric points beside them.
    "raw_spans_days": (("otel_traces", "toDateTime(Timestamp)"),
                       ("otel_traces_trace_id_ts", "End"),
                       ("otel_logs", "TimestampTime"),
                       *((table, "TimeUnix") for table in ("otel_metrics_sum", "otel_metrics_gauge",
                                                            "otel_metrics_histogram",
                                                            "otel_metrics_exponential_histogram",
                                                            "otel_metrics_summary"))),
    "llm_spans_days": (("llm_spans", "toDateTime(timestamp)"),),
    "rollups_days": (("llm_cost_hourly", "hour"),
                     ("llm_cost_daily_by_user", "day"),
                     ("llm_cache_savings_hourly", "hour"),
                     ("llm_cost_daily_users", "day"),
                     ("llm_savings_hourly", "hour"),
                     ("llm_cost_daily", "day"),
                     ("llm_user_cost_daily", "day"),
                     ("llm_tag_cost_daily", "day"),
                     ("llm_savings_daily", "day"),
                     ("llm_app_model_hourly", "hour"),
                     ("llm_cost_histogram_daily", "day")),
    # Kept N days after the alert's window ends, so a claim never expires inside its window.
    "alerts_days": (("budget_alerts", "toDateTime(greatest(claimed_at, expires_at))"),
                    ("notification_deliveries", "toDateTime(greatest(attempted_at, expires_at))"),
                    ("notification_claims", "toDateTime(greatest(claimed_at, expires_at))")),
}


def apply_retention(client: Client, retention, cluster: str | None = None) -> list[str]:
    """Bring every table's TTL to `retention` (the config's section); returns the tables changed."""
    applied = dict(client.query(_sql("retention_applied").template).result_rows)
    changed = []
    for key, tables in RETENTION_TABLES.items():
        days = getattr(retention, key)
        for table, aged_by in tables:
            if applied.get(table, 0) == days:  # never applied counts as "forever", which tables start with
                continue
            if days:
                sql = _sql("retention_modify_ttl").substitute(table=table, aged_by=aged_by, days=days)
            else:
                sql = _sql("retention_remove_ttl").substitute(table=table)
            for statement in layout_statements(sql, cluster):
                client.command(statement)
            client.insert("retention_applied", [[table, days, datetime.now(timezone.utc)]],
                          column_names=["table_name", "days", "applied_at"])
            log.info("retention of %s set to %s", table, f"{days} days" if days else "forever")
            changed.append(table)
    return changed


def _sql(name: str) -> Template:
    return Template(resources.files(__package__).joinpath("queries", f"{name}.sql").read_text(encoding="utf-8"))
