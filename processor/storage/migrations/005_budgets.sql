-- Budgets, the alerts they fired and the notifications sent. ClickHouse is the one source
-- of truth, also when several processors run: each reads the budgets from here and claims
-- every alert here before sending it.

-- One row per budget version; the newest `updated_at` wins and `is_deleted` hides a budget.
-- Read with FINAL.
CREATE TABLE IF NOT EXISTS budgets
(
    id String,
    -- app, team, user, model, provider, environment, feature, tenant, tag:<name> or all
    scope LowCardinality(String),
    scope_value String,
    -- daily, weekly, monthly (calendar windows in `timezone`) or rolling (`rolling_seconds` long)
    window_kind LowCardinality(String),
    timezone LowCardinality(String),
    rolling_seconds UInt32,
    limit_amount Decimal(38, 12),
    -- fractions of the limit that alert once per window, e.g. [0.5, 0.8, 1.0]
    thresholds Array(Decimal(38, 12)),
    -- a hard budget throttles at its limit (or degrades to fallback_model); a soft one only alerts
    hard Bool,
    fallback_model String,
    -- notification channels as JSON; secrets are named by environment variable, never stored
    channels String,
    description String,
    -- where the budget came from: "file" (the file given to serve) or "cli"
    source LowCardinality(String),
    updated_at DateTime64(6, 'UTC'),
    is_deleted UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at, is_deleted)
ORDER BY id;

-- The budgets in force, one row each, as people and dashboards read them.
CREATE VIEW IF NOT EXISTS budgets_current AS
SELECT
    id,
    scope,
    scope_value,
    window_kind,
    if(window_kind = 'rolling', concat(toString(intDiv(rolling_seconds, 60)), 'm'), timezone) AS period,
    limit_amount,
    thresholds,
    if(hard, 'hard', 'soft') AS mode,
    fallback_model,
    arrayStringConcat(arrayMap(c -> JSONExtractString(c, 'type'), JSONExtractArrayRaw(channels)), ',')
        AS channel_types,
    description,
    source,
    updated_at
FROM budgets FINAL;

-- The alert log. A row is a claim on a dedup key (budget id | window start | threshold, or an
-- anomaly's key). Every claimant inserts with insert_deduplication_token = the key, so the
-- store keeps only the first insert; whoever's row is there sends the message.
CREATE TABLE IF NOT EXISTS budget_alerts
(
    dedup_key String,
    kind LowCardinality(String),
    budget_id String,
    window_start DateTime64(3, 'UTC'),
    threshold Decimal(38, 12),
    spend Decimal(38, 12),
    limit_amount Decimal(38, 12),
    title String,
    claimant String,
    claimed_at DateTime64(6, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY dedup_key
SETTINGS non_replicated_deduplication_window = 10000;

-- Every attempt to deliver an alert to a channel. `target` names the host or the recipients,
-- never a secret (a Slack webhook's path is one).
CREATE TABLE IF NOT EXISTS notification_deliveries
(
    attempted_at DateTime64(6, 'UTC'),
    alert_key String,
    channel LowCardinality(String),
    target String,
    attempt UInt8,
    ok Bool,
    final Bool,
    status String,
    error String,
    sender String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(attempted_at)
ORDER BY (alert_key, attempted_at);
