-- Rollups kept by materialized views, so dashboards and budgets never scan raw rows.
-- SummingMergeTree adds rows up only when parts merge: always read with sum() ... GROUP BY.
CREATE TABLE IF NOT EXISTS llm_cost_hourly
(
    hour DateTime,
    app LowCardinality(String),
    environment LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    team LowCardinality(String),
    feature LowCardinality(String),
    tenant LowCardinality(String),
    requests UInt64,
    errors UInt64,
    unpriced_requests UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    cost Decimal(38, 12)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, app, environment, provider, model, team, feature, tenant)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_hourly_mv TO llm_cost_hourly AS
SELECT
    toStartOfHour(timestamp) AS hour,
    app, environment, provider, model, team, feature, tenant,
    count() AS requests,
    countIf(status = 'Error') AS errors,
    countIf(unpriced = 1) AS unpriced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(ifNull(cost, toDecimal128(0, 12))) AS cost
FROM llm_spans
GROUP BY hour, app, environment, provider, model, team, feature, tenant;

CREATE TABLE IF NOT EXISTS llm_cost_daily_by_user
(
    day Date,
    app LowCardinality(String),
    environment LowCardinality(String),
    user_id String,
    tenant LowCardinality(String),
    requests UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cost Decimal(38, 12)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, app, environment, user_id, tenant)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_daily_by_user_mv TO llm_cost_daily_by_user AS
SELECT
    toDate(timestamp) AS day,
    app, environment, user_id, tenant,
    count() AS requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(ifNull(cost, toDecimal128(0, 12))) AS cost
FROM llm_spans
GROUP BY day, app, environment, user_id, tenant;
