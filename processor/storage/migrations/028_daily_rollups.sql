-- Daily rollups, so that the pages read a month in a few thousand rows, not the hourly
-- rollup's hundreds of thousands (or the calls):
--   llm_cost_daily: the hourly rollup's seven dimensions and measures per UTC day, with the
--     cache-savings measures of migration 025 beside them;
--   llm_user_cost_daily: spend per UTC day and user alone (top users, breakdowns by user
--     without other filters); 026's llm_cost_daily_users answers when other filters apply;
--   llm_tag_cost_daily: spend per UTC day, tag name and value (one row per call and tag it
--     carries) and the seven dimensions; calls without the tag are what llm_cost_daily has
--     beyond it (see analytics/sql/rollup_tag_days.sql);
--   llm_savings_daily: migration 015's savings by strategy per UTC day.
-- Every measure is weighted by the row's sign (migration 020), so corrections net out.
CREATE TABLE IF NOT EXISTS llm_cost_daily
(
    day Date,
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
    priced_requests Int64,
    input_tokens Int64,
    output_tokens Int64,
    cache_read_tokens Int64,
    cache_write_tokens Int64,
    reasoning_tokens Int64,
    cost Decimal(38, 12),
    priced_tokens Int64,
    cache_savings Decimal(38, 12),
    cache_savings_unknown_requests Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, app, environment, provider, model, team, feature, tenant)
SETTINGS non_replicated_deduplication_window = 10000;

-- The cache-savings expressions are those of migration 025. Columns are named with the
-- subquery where the measures reuse the name as an alias.
CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_daily_mv TO llm_cost_daily AS
SELECT
    toDate(timestamp, 'UTC') AS day,
    app, environment, provider, model, team, feature, tenant,
    sum(sign) AS requests,
    sumIf(sign, status = 'Error') AS errors,
    sumIf(sign, unpriced = 1) AS unpriced_requests,
    sumIf(sign, calls.cost IS NOT NULL) AS priced_requests,
    sum(toInt64(calls.input_tokens) * sign) AS input_tokens,
    sum(toInt64(calls.output_tokens) * sign) AS output_tokens,
    sum(toInt64(calls.cache_read_tokens) * sign) AS cache_read_tokens,
    sum(toInt64(calls.cache_write_tokens) * sign) AS cache_write_tokens,
    sum(toInt64(calls.reasoning_tokens) * sign) AS reasoning_tokens,
    sum(ifNull(calls.cost, toDecimal128(0, 12)) * sign) AS cost,
    sumIf(toInt64(calls.input_tokens + calls.output_tokens) * sign, calls.cost IS NOT NULL) AS priced_tokens,
    sum(savings * sign) AS cache_savings,
    sumIf(sign, savings_unknown) AS cache_savings_unknown_requests
FROM
(
    SELECT
        timestamp, app, environment, provider, model, team, feature, tenant, status, unpriced, cost, sign,
        input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
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
) AS calls
GROUP BY day, app, environment, provider, model, team, feature, tenant;

CREATE TABLE IF NOT EXISTS llm_user_cost_daily
(
    day Date,
    user_id String,
    requests Int64,
    errors Int64,
    unpriced_requests Int64,
    priced_requests Int64,
    input_tokens Int64,
    output_tokens Int64,
    cache_read_tokens Int64,
    cache_write_tokens Int64,
    reasoning_tokens Int64,
    cost Decimal(38, 12)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, user_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_user_cost_daily_mv TO llm_user_cost_daily AS
SELECT
    toDate(timestamp, 'UTC') AS day,
    user_id,
    sum(sign) AS requests,
    sumIf(sign, status = 'Error') AS errors,
    sumIf(sign, llm_spans.unpriced = 1) AS unpriced_requests,
    sumIf(sign, llm_spans.cost IS NOT NULL) AS priced_requests,
    sum(toInt64(llm_spans.input_tokens) * sign) AS input_tokens,
    sum(toInt64(llm_spans.output_tokens) * sign) AS output_tokens,
    sum(toInt64(llm_spans.cache_read_tokens) * sign) AS cache_read_tokens,
    sum(toInt64(llm_spans.cache_write_tokens) * sign) AS cache_write_tokens,
    sum(toInt64(llm_spans.reasoning_tokens) * sign) AS reasoning_tokens,
    sum(ifNull(llm_spans.cost, toDecimal128(0, 12)) * sign) AS cost
FROM llm_spans
GROUP BY day, user_id;

CREATE TABLE IF NOT EXISTS llm_tag_cost_daily
(
    day Date,
    tag_name LowCardinality(String),
    tag_value String,
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
    priced_requests Int64,
    input_tokens Int64,
    output_tokens Int64,
    cache_read_tokens Int64,
    cache_write_tokens Int64,
    reasoning_tokens Int64,
    cost Decimal(38, 12)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, tag_name, tag_value, app, environment, provider, model, team, feature, tenant)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_tag_cost_daily_mv TO llm_tag_cost_daily AS
SELECT
    toDate(timestamp, 'UTC') AS day,
    tag_name, tag_value, app, environment, provider, model, team, feature, tenant,
    sum(sign) AS requests,
    sumIf(sign, status = 'Error') AS errors,
    sumIf(sign, llm_spans.unpriced = 1) AS unpriced_requests,
    sumIf(sign, llm_spans.cost IS NOT NULL) AS priced_requests,
    sum(toInt64(llm_spans.input_tokens) * sign) AS input_tokens,
    sum(toInt64(llm_spans.output_tokens) * sign) AS output_tokens,
    sum(toInt64(llm_spans.cache_read_tokens) * sign) AS cache_read_tokens,
    sum(toInt64(llm_spans.cache_write_tokens) * sign) AS cache_write_tokens,
    sum(toInt64(llm_spans.reasoning_tokens) * sign) AS reasoning_tokens,
    sum(ifNull(llm_spans.cost, toDecimal128(0, 12)) * sign) AS cost
FROM llm_spans
ARRAY JOIN mapKeys(tags) AS tag_name, mapValues(tags) AS tag_value
GROUP BY day, tag_name, tag_value, app, environment, provider, model, team, feature, tenant;

CREATE TABLE IF NOT EXISTS llm_savings_daily
(
    day Date,
    strategy LowCardinality(String),
    app LowCardinality(String),
    environment LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    requested_model LowCardinality(String),
    team LowCardinality(String),
    feature LowCardinality(String),
    tenant LowCardinality(String),
    calls Int64,
    unvalued_calls Int64,
    saved Decimal(38, 12)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, strategy, app, environment, provider, model, requested_model, team, feature, tenant)
SETTINGS non_replicated_deduplication_window = 10000;

-- The strategies as in migration 024: the call's own, and the provider's prompt caching.
CREATE MATERIALIZED VIEW IF NOT EXISTS llm_savings_daily_mv TO llm_savings_daily AS
SELECT
    toDate(timestamp, 'UTC') AS day,
    saving.1 AS strategy,
    app, environment, provider, model, requested_model, team, feature, tenant,
    sum(sign) AS calls,
    sumIf(sign, saving.2 IS NULL) AS unvalued_calls,
    sum(ifNull(saving.2, toDecimal128(0, 12)) * sign) AS saved
FROM llm_spans
ARRAY JOIN [
    (saving_strategy, saved_cost),
    (if(cache_kind = '' AND cache_read_tokens + cache_write_tokens > 0, 'prompt_cache', ''), CAST(prompt_cache_saved, 'Nullable(Decimal(38, 12))'))
] AS saving
WHERE saving.1 != ''
GROUP BY day, strategy, app, environment, provider, model, requested_model, team, feature, tenant;

-- The calls stored before this migration (see migration 025 for the tokens).
INSERT INTO llm_cost_daily
SELECT
    toDate(timestamp, 'UTC') AS day,
    app, environment, provider, model, team, feature, tenant,
    count(), countIf(status = 'Error'), countIf(unpriced = 1), countIf(cost IS NOT NULL), sum(input_tokens),
    sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(reasoning_tokens),
    sum(ifNull(cost, toDecimal128(0, 12))), sumIf(total_tokens, cost IS NOT NULL), sum(cache_savings),
    countIf(cache_savings_unknown)
FROM v_llm_calls
GROUP BY day, app, environment, provider, model, team, feature, tenant
SETTINGS insert_deduplication_token = 'migration-028-backfill-daily';

INSERT INTO llm_user_cost_daily
SELECT
    toDate(timestamp, 'UTC') AS day,
    user_id,
    count(), countIf(status = 'Error'), countIf(unpriced = 1), countIf(cost IS NOT NULL), sum(input_tokens),
    sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(reasoning_tokens),
    sum(ifNull(cost, toDecimal128(0, 12)))
FROM v_llm_calls
GROUP BY day, user_id
SETTINGS insert_deduplication_token = 'migration-028-backfill-users';

INSERT INTO llm_tag_cost_daily
SELECT
    toDate(timestamp, 'UTC') AS day,
    tag_name, tag_value, app, environment, provider, model, team, feature, tenant,
    count(), countIf(status = 'Error'), countIf(unpriced = 1), countIf(cost IS NOT NULL), sum(input_tokens),
    sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(reasoning_tokens),
    sum(ifNull(cost, toDecimal128(0, 12)))
FROM v_llm_calls
ARRAY JOIN mapKeys(tags) AS tag_name, mapValues(tags) AS tag_value
GROUP BY day, tag_name, tag_value, app, environment, provider, model, team, feature, tenant
SETTINGS insert_deduplication_token = 'migration-028-backfill-tags';

INSERT INTO llm_savings_daily
SELECT
    toDate(timestamp, 'UTC') AS day,
    saving.1 AS strategy,
    app, environment, provider, model, requested_model, team, feature, tenant,
    count(), countIf(saving.2 IS NULL), sum(ifNull(saving.2, toDecimal128(0, 12)))
FROM v_llm_calls
ARRAY JOIN [
    (saving_strategy, saved_cost),
    (if(cache_kind = '' AND cache_read_tokens + cache_write_tokens > 0, 'prompt_cache', ''), CAST(prompt_cache_saved, 'Nullable(Decimal(38, 12))'))
] AS saving
WHERE saving.1 != ''
GROUP BY day, strategy, app, environment, provider, model, requested_model, team, feature, tenant
SETTINGS insert_deduplication_token = 'migration-028-backfill-savings';
