-- What the overview needs beyond the hourly cost rollup, per hour and the same seven
-- dimensions: tokens of priced calls (the per-1k-tokens average divides by them) and
-- cache savings, so that the summary of a month reads rollups, not a month of calls.
-- The expressions are those of v_llm_calls (migration 004), spelled out again because a
-- materialized view is triggered by inserts into llm_spans, not into a view over it.
CREATE TABLE IF NOT EXISTS llm_cache_savings_hourly
(
    hour DateTime,
    app LowCardinality(String),
    environment LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    team LowCardinality(String),
    feature LowCardinality(String),
    tenant LowCardinality(String),
    priced_requests Int64,
    priced_tokens Int64,
    cache_savings Decimal(38, 12),
    cache_savings_unknown_requests Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, app, environment, provider, model, team, feature, tenant)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cache_savings_hourly_mv TO llm_cache_savings_hourly AS
SELECT
    toStartOfHour(timestamp) AS hour,
    app, environment, provider, model, team, feature, tenant,
    -- Weighted by sign: corrections (migration 020) are rows too.
    sumIf(sign, cost IS NOT NULL) AS priced_requests,
    sumIf(toInt64(input_tokens + output_tokens) * sign, cost IS NOT NULL) AS priced_tokens,
    sum(savings * sign) AS cache_savings,
    sumIf(sign, savings_unknown) AS cache_savings_unknown_requests
FROM
(
    SELECT
        timestamp, app, environment, provider, model, team, feature, tenant, cost, input_tokens, output_tokens, sign,
        toInt64(input_tokens) - toInt64(cache_read_tokens) - toInt64(cache_write_tokens)
            + if(mapContains(cost_details, 'cache_write'), 0, toInt64(cache_write_tokens)) AS rate_tokens,
        (cost IS NOT NULL AND cache_read_tokens > 0
            AND mapContains(cost_details, 'cache_read') AND mapContains(cost_details, 'input')
            AND rate_tokens > 0) AS derivable,
        (cost IS NOT NULL AND cache_read_tokens > 0 AND NOT derivable
            AND NOT (mapContains(cost_details, 'input') AND NOT mapContains(cost_details, 'cache_read')))
            AS savings_unknown,
        if(derivable,
           cost_details['input'] * cache_read_tokens / greatest(rate_tokens, 1) - cost_details['cache_read'],
           toDecimal128(0, 12)) AS savings
    FROM llm_spans
)
GROUP BY hour, app, environment, provider, model, team, feature, tenant;

-- The calls stored before this migration. Migrations run before the service writes; the
-- token keeps a second processor that migrates at the same moment from adding them twice.
INSERT INTO llm_cache_savings_hourly
SELECT
    toStartOfHour(timestamp) AS hour,
    app, environment, provider, model, team, feature, tenant,
    countIf(cost IS NOT NULL), sumIf(total_tokens, cost IS NOT NULL), sum(cache_savings),
    countIf(cache_savings_unknown)
FROM v_llm_calls
GROUP BY hour, app, environment, provider, model, team, feature, tenant
SETTINGS insert_deduplication_token = 'migration-025-backfill';

-- Read with sum() ... GROUP BY, like v_cost_hourly.
CREATE VIEW IF NOT EXISTS v_cache_savings_hourly AS
SELECT
    hour, app, environment, provider, model, team, feature, tenant,
    sum(priced_requests) AS priced_requests,
    sum(priced_tokens) AS priced_tokens,
    sum(cache_savings) AS cache_savings,
    sum(cache_savings_unknown_requests) AS cache_savings_unknown_requests
FROM llm_cache_savings_hourly
GROUP BY hour, app, environment, provider, model, team, feature, tenant;
