-- Spend per UTC day and user, with the seven dimensions of the hourly rollup beside it
-- and every measure of v_cost_hourly, so that "top users" and breakdowns by user over
-- whole days read a rollup. (Migration 003's llm_cost_daily_by_user keeps fewer columns;
-- it stays for the dashboards that read it.)
CREATE TABLE IF NOT EXISTS llm_cost_daily_users
(
    day Date,
    user_id String,
    app LowCardinality(String),
    environment LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    team LowCardinality(String),
    feature LowCardinality(String),
    tenant LowCardinality(String),
    requests Int64,
    errors Int64,
    unpriced_requests Int64,
    input_tokens Int64,
    output_tokens Int64,
    cache_read_tokens Int64,
    cache_write_tokens Int64,
    reasoning_tokens Int64,
    cost Decimal(38, 12),
    -- calls with a cost: a group without one reads as NULL (unpriced), not 0
    priced_requests Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, user_id, app, environment, provider, model, team, feature, tenant)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_daily_users_mv TO llm_cost_daily_users AS
SELECT
    toDate(timestamp, 'UTC') AS day,
    user_id, app, environment, provider, model, team, feature, tenant,
    -- Weighted by sign: corrections (migration 020) are rows too.
    sum(sign) AS requests,
    sumIf(sign, status = 'Error') AS errors,
    sumIf(sign, llm_spans.unpriced = 1) AS unpriced_requests,
    sum(toInt64(llm_spans.input_tokens) * sign) AS input_tokens,
    sum(toInt64(llm_spans.output_tokens) * sign) AS output_tokens,
    sum(toInt64(llm_spans.cache_read_tokens) * sign) AS cache_read_tokens,
    sum(toInt64(llm_spans.cache_write_tokens) * sign) AS cache_write_tokens,
    sum(toInt64(llm_spans.reasoning_tokens) * sign) AS reasoning_tokens,
    sum(ifNull(llm_spans.cost, toDecimal128(0, 12)) * sign) AS cost,
    sumIf(sign, llm_spans.cost IS NOT NULL) AS priced_requests
FROM llm_spans
GROUP BY day, user_id, app, environment, provider, model, team, feature, tenant;

-- The calls stored before this migration (see migration 025 for the token).
INSERT INTO llm_cost_daily_users
SELECT
    toDate(timestamp, 'UTC') AS day,
    user_id, app, environment, provider, model, team, feature, tenant,
    count(), countIf(status = 'Error'), countIf(unpriced = 1), sum(input_tokens), sum(output_tokens),
    sum(cache_read_tokens), sum(cache_write_tokens), sum(reasoning_tokens), sum(ifNull(cost, toDecimal128(0, 12))),
    countIf(cost IS NOT NULL)
FROM v_llm_calls
GROUP BY day, user_id, app, environment, provider, model, team, feature, tenant
SETTINGS insert_deduplication_token = 'migration-026-backfill';

-- `day_start` is the day as a UTC DateTime, so that hour-based SQL reads both rollups alike.
CREATE VIEW IF NOT EXISTS v_cost_daily_users AS
SELECT
    day, toDateTime(day, 'UTC') AS day_start, user_id, app, environment, provider, model, team, feature, tenant,
    sum(requests) AS requests,
    sum(errors) AS errors,
    sum(unpriced_requests) AS unpriced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    input_tokens + output_tokens AS total_tokens,
    sum(priced_requests) AS priced_requests,
    if(priced_requests > 0, sum(cost), NULL) AS cost
FROM llm_cost_daily_users
GROUP BY day, user_id, app, environment, provider, model, team, feature, tenant
HAVING requests != 0 OR cost != 0;
