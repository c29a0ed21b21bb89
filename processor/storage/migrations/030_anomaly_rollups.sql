-- Two small rollups for the anomaly search, so that it reads a month in a few thousand rows.
-- Both are weighted by sign (migration 020), so corrections net out.

-- Spend per hour of each app/model alone (the hourly cost rollup splits it by five more
-- dimensions): spend spikes, and new apps and models.
CREATE TABLE IF NOT EXISTS llm_app_model_hourly
(
    hour DateTime('UTC'),
    app LowCardinality(String),
    model LowCardinality(String),
    requests Int64,
    priced_requests Int64,
    cost Decimal(38, 12)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, app, model)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_app_model_hourly_mv TO llm_app_model_hourly AS
SELECT
    toStartOfHour(timestamp) AS hour,
    app,
    model,
    sum(sign) AS requests,
    sumIf(sign, llm_spans.cost IS NOT NULL) AS priced_requests,
    sum(ifNull(llm_spans.cost, toDecimal128(0, 12)) * sign) AS cost
FROM llm_spans
GROUP BY hour, app, model;

-- The calls stored before this migration.
INSERT INTO llm_app_model_hourly
SELECT
    toStartOfHour(timestamp) AS hour,
    app,
    model,
    sum(sign) AS requests,
    sumIf(sign, llm_spans.cost IS NOT NULL) AS priced_requests,
    sum(ifNull(llm_spans.cost, toDecimal128(0, 12)) * sign) AS cost
FROM llm_spans
GROUP BY hour, app, model
SETTINGS insert_deduplication_token = 'migration-030-backfill-app-model-hourly';

-- How the priced calls of each app/model spread over cost, per UTC day: a count per cost
-- bucket, the buckets 2^(1/8) apart (about 9 %), bucket b holding costs in
-- [2^(b/8), 2^((b+1)/8)) dollars and bucket -32768 the free calls. The search reads it to
-- bound each app/model's p95 cost to one bucket and to see on which days a call may cost
-- many times that; only those days' calls are then read to judge them exactly
-- (analytics/sql/outlier_candidate_days.sql). A cost's bucket is worked out in this file
-- only; its float rounding is why the search keeps a bucket of margin on either side.
CREATE TABLE IF NOT EXISTS llm_cost_histogram_daily
(
    day Date,
    app LowCardinality(String),
    model LowCardinality(String),
    bucket Int16,
    calls Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, app, model, bucket)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_histogram_daily_mv TO llm_cost_histogram_daily AS
SELECT
    toDate(timestamp, 'UTC') AS day,
    app,
    model,
    toInt16(if(llm_spans.cost > 0, floor(8 * log2(toFloat64(llm_spans.cost))), -32768)) AS bucket,
    sum(sign) AS calls
FROM llm_spans
WHERE llm_spans.cost IS NOT NULL
GROUP BY day, app, model, bucket;

-- The calls stored before this migration.
INSERT INTO llm_cost_histogram_daily
SELECT
    toDate(timestamp, 'UTC') AS day,
    app,
    model,
    toInt16(if(llm_spans.cost > 0, floor(8 * log2(toFloat64(llm_spans.cost))), -32768)) AS bucket,
    sum(sign) AS calls
FROM llm_spans
WHERE llm_spans.cost IS NOT NULL
GROUP BY day, app, model, bucket
SETTINGS insert_deduplication_token = 'migration-030-backfill-cost-histogram';
