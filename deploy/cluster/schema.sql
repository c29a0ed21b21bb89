-- The llmledger schema on the ClickHouse cluster llmledger, as `llmledger schema --cluster llmledger` prints it.
-- Generated from processor/storage/migrations/ (read the comments there); apply in this order.

-- schema_migrations
CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER llmledger (version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}') ORDER BY version
SETTINGS replicated_deduplication_window = 0;

-- 001_otel_traces.sql
CREATE TABLE IF NOT EXISTS otel_traces_local ON CLUSTER llmledger
(
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested
    (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested
    (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS otel_traces ON CLUSTER llmledger AS otel_traces_local ENGINE = Distributed(llmledger, currentDatabase(), otel_traces_local, cityHash64(TraceId));

CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts_local ON CLUSTER llmledger
(
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(Delta, ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY TraceId
SETTINGS index_granularity = 8192, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts ON CLUSTER llmledger AS otel_traces_trace_id_ts_local ENGINE = Distributed(llmledger, currentDatabase(), otel_traces_trace_id_ts_local, cityHash64(TraceId));

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv ON CLUSTER llmledger TO otel_traces_trace_id_ts_local AS
SELECT
    TraceId,
    min(toDateTime(Timestamp)) AS Start,
    max(toDateTime(Timestamp)) AS End
FROM otel_traces_local AS otel_traces
WHERE TraceId != ''
GROUP BY TraceId;

-- 002_llm_spans.sql
CREATE TABLE IF NOT EXISTS llm_spans_local ON CLUSTER llmledger
(
    timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    parent_span_id String CODEC(ZSTD(1)),
    service_name LowCardinality(String),
    app LowCardinality(String),
    environment LowCardinality(String),
    provider LowCardinality(String),
    operation LowCardinality(String),
    request_model LowCardinality(String),
    response_model LowCardinality(String),
    model LowCardinality(String) MATERIALIZED if(response_model != '', response_model, request_model),
    server_address LowCardinality(String),
    service_tier LowCardinality(String),
    streaming Bool,
    user_id String CODEC(ZSTD(1)),
    session_id String CODEC(ZSTD(1)),
    team LowCardinality(String),
    feature LowCardinality(String),
    tenant LowCardinality(String),
    tags Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    usage_reported Bool,
    cost Nullable(Decimal(38, 12)),
    cost_details Map(LowCardinality(String), Decimal(38, 12)),
    price_source LowCardinality(String),
    price_version LowCardinality(String),
    unpriced UInt8,
    duration_ns UInt64,
    time_to_first_chunk Nullable(Float64),
    status LowCardinality(String),
    error_type LowCardinality(String),
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(timestamp)
ORDER BY (app, toStartOfHour(timestamp), model, timestamp)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS llm_spans ON CLUSTER llmledger AS llm_spans_local ENGINE = Distributed(llmledger, currentDatabase(), llm_spans_local, cityHash64(trace_id));

-- 003_cost_rollups.sql
CREATE TABLE IF NOT EXISTS llm_cost_hourly_local ON CLUSTER llmledger
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
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, app, environment, provider, model, team, feature, tenant)
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS llm_cost_hourly ON CLUSTER llmledger AS llm_cost_hourly_local ENGINE = Distributed(llmledger, currentDatabase(), llm_cost_hourly_local, cityHash64(hour, app));

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_hourly_mv ON CLUSTER llmledger TO llm_cost_hourly_local AS
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
FROM llm_spans_local AS llm_spans
GROUP BY hour, app, environment, provider, model, team, feature, tenant;

CREATE TABLE IF NOT EXISTS llm_cost_daily_by_user_local ON CLUSTER llmledger
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
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (day, app, environment, user_id, tenant)
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS llm_cost_daily_by_user ON CLUSTER llmledger AS llm_cost_daily_by_user_local ENGINE = Distributed(llmledger, currentDatabase(), llm_cost_daily_by_user_local, cityHash64(day, user_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_daily_by_user_mv ON CLUSTER llmledger TO llm_cost_daily_by_user_local AS
SELECT
    toDate(timestamp) AS day,
    app, environment, user_id, tenant,
    count() AS requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(ifNull(cost, toDecimal128(0, 12))) AS cost
FROM llm_spans_local AS llm_spans
GROUP BY day, app, environment, user_id, tenant;

-- 004_analytics_views.sql
CREATE VIEW IF NOT EXISTS v_cost_hourly ON CLUSTER llmledger AS
SELECT
    hour, app, environment, provider, model, team, feature, tenant,
    sum(requests) AS requests,
    sum(errors) AS errors,
    sum(unpriced_requests) AS unpriced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    input_tokens + output_tokens AS total_tokens,
    sum(cost) AS cost
FROM llm_cost_hourly
GROUP BY hour, app, environment, provider, model, team, feature, tenant;

CREATE VIEW IF NOT EXISTS v_cost_daily_by_user ON CLUSTER llmledger AS
SELECT
    day, app, environment, user_id, tenant,
    sum(requests) AS requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost) AS cost
FROM llm_cost_daily_by_user
GROUP BY day, app, environment, user_id, tenant;

CREATE VIEW IF NOT EXISTS v_llm_calls ON CLUSTER llmledger AS
SELECT
    timestamp, trace_id, span_id, parent_span_id, service_name,
    app, environment, provider, operation, model, request_model, response_model,
    service_tier, streaming, user_id, session_id, team, feature, tenant, tags,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_tokens + output_tokens AS total_tokens,
    cost, cost_details, price_source, price_version, unpriced,
    duration_ns, time_to_first_chunk, status, error_type,
    toInt64(input_tokens) - toInt64(cache_read_tokens) - toInt64(cache_write_tokens)
        + if(mapContains(cost_details, 'cache_write'), 0, toInt64(cache_write_tokens)) AS input_rate_tokens,
    (cost IS NOT NULL AND cache_read_tokens > 0
        AND mapContains(cost_details, 'cache_read') AND mapContains(cost_details, 'input')
        AND input_rate_tokens > 0) AS cache_savings_derivable,
    (cost IS NOT NULL AND cache_read_tokens > 0 AND NOT cache_savings_derivable
        AND NOT (mapContains(cost_details, 'input') AND NOT mapContains(cost_details, 'cache_read')))
        AS cache_savings_unknown,
    if(cache_savings_derivable,
       cost_details['input'] * cache_read_tokens / greatest(input_rate_tokens, 1) - cost_details['cache_read'],
       toDecimal128(0, 12)) AS cache_savings
FROM llm_spans;

CREATE VIEW IF NOT EXISTS v_trace_costs ON CLUSTER llmledger AS
SELECT
    trace_id,
    min(timestamp) AS first_call,
    max(timestamp) AS last_call,
    groupUniqArray(app) AS apps,
    groupUniqArray(model) AS models,
    count() AS llm_calls,
    countIf(unpriced = 1) AS unpriced_calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    input_tokens + output_tokens AS total_tokens,
    ifNull(sum(cost), toDecimal128(0, 12)) AS cost
FROM llm_spans
GROUP BY trace_id;

-- 005_budgets.sql
CREATE TABLE IF NOT EXISTS budgets ON CLUSTER llmledger
(
    id String,
    scope LowCardinality(String),
    scope_value String,
    window_kind LowCardinality(String),
    timezone LowCardinality(String),
    rolling_seconds UInt32,
    limit_amount Decimal(38, 12),
    thresholds Array(Decimal(38, 12)),
    hard Bool,
    fallback_model String,
    channels String,
    description String,
    source LowCardinality(String),
    updated_at DateTime64(6, 'UTC'),
    is_deleted UInt8 DEFAULT 0
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}', updated_at, is_deleted)
ORDER BY id
SETTINGS replicated_deduplication_window = 0;

CREATE VIEW IF NOT EXISTS budgets_current ON CLUSTER llmledger AS
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

CREATE TABLE IF NOT EXISTS budget_alerts ON CLUSTER llmledger
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(window_start)
ORDER BY dedup_key
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS notification_deliveries ON CLUSTER llmledger
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(attempted_at)
ORDER BY (alert_key, attempted_at)
SETTINGS replicated_deduplication_window = 0;

-- 006_llm_spans_bounds.sql
ALTER TABLE llm_spans_local ON CLUSTER llmledger ADD CONSTRAINT IF NOT EXISTS cost_within_bounds
    CHECK cost IS NULL OR (cost >= 0 AND cost <= 1000000);

ALTER TABLE llm_spans_local ON CLUSTER llmledger ADD CONSTRAINT IF NOT EXISTS cost_details_within_bounds
    CHECK arrayAll(amount -> amount >= 0 AND amount <= 1000000, mapValues(cost_details));

ALTER TABLE llm_spans_local ON CLUSTER llmledger ADD CONSTRAINT IF NOT EXISTS tokens_within_bounds
    CHECK greatest(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens) <= 300000000;

-- 008_alert_deliveries_and_retention.sql
ALTER TABLE budget_alerts ON CLUSTER llmledger
    ADD COLUMN IF NOT EXISTS message String DEFAULT '',
    ADD COLUMN IF NOT EXISTS channels String DEFAULT '[]',
    ADD COLUMN IF NOT EXISTS expires_at DateTime64(3, 'UTC') DEFAULT window_start;

ALTER TABLE notification_deliveries ON CLUSTER llmledger
    ADD COLUMN IF NOT EXISTS channel_id String DEFAULT '',
    ADD COLUMN IF NOT EXISTS round UInt32 DEFAULT 1,
    ADD COLUMN IF NOT EXISTS expires_at DateTime64(3, 'UTC') DEFAULT attempted_at;

CREATE TABLE IF NOT EXISTS notification_claims ON CLUSTER llmledger
(
    alert_key String,
    channel_id String,
    round UInt32,
    claimant String,
    claimed_at DateTime64(6, 'UTC'),
    expires_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(expires_at)
ORDER BY (alert_key, channel_id, round)
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS retention_applied ON CLUSTER llmledger
(
    table_name String,
    days UInt32,
    applied_at DateTime64(6, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}', applied_at)
ORDER BY table_name
SETTINGS replicated_deduplication_window = 0;

-- 025_cache_savings_hourly.sql
CREATE TABLE IF NOT EXISTS llm_cache_savings_hourly_local ON CLUSTER llmledger
(
    hour DateTime,
    app LowCardinality(String),
    environment LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    team LowCardinality(String),
    feature LowCardinality(String),
    tenant LowCardinality(String),
    priced_requests UInt64,
    priced_tokens UInt64,
    cache_savings Decimal(38, 12),
    cache_savings_unknown_requests UInt64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, app, environment, provider, model, team, feature, tenant)
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS llm_cache_savings_hourly ON CLUSTER llmledger AS llm_cache_savings_hourly_local ENGINE = Distributed(llmledger, currentDatabase(), llm_cache_savings_hourly_local, cityHash64(hour, app));

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cache_savings_hourly_mv ON CLUSTER llmledger TO llm_cache_savings_hourly_local AS
SELECT
    toStartOfHour(timestamp) AS hour,
    app, environment, provider, model, team, feature, tenant,
    countIf(cost IS NOT NULL) AS priced_requests,
    sumIf(input_tokens + output_tokens, cost IS NOT NULL) AS priced_tokens,
    sum(savings) AS cache_savings,
    countIf(savings_unknown) AS cache_savings_unknown_requests
FROM
(
    SELECT
        timestamp, app, environment, provider, model, team, feature, tenant, cost, input_tokens, output_tokens,
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
    FROM llm_spans_local AS llm_spans
)
GROUP BY hour, app, environment, provider, model, team, feature, tenant;

INSERT INTO llm_cache_savings_hourly
SELECT
    toStartOfHour(timestamp) AS hour,
    app, environment, provider, model, team, feature, tenant,
    countIf(cost IS NOT NULL), sumIf(total_tokens, cost IS NOT NULL), sum(cache_savings),
    countIf(cache_savings_unknown)
FROM v_llm_calls
GROUP BY hour, app, environment, provider, model, team, feature, tenant
SETTINGS insert_deduplication_token = 'migration-025-backfill';

CREATE VIEW IF NOT EXISTS v_cache_savings_hourly ON CLUSTER llmledger AS
SELECT
    hour, app, environment, provider, model, team, feature, tenant,
    sum(priced_requests) AS priced_requests,
    sum(priced_tokens) AS priced_tokens,
    sum(cache_savings) AS cache_savings,
    sum(cache_savings_unknown_requests) AS cache_savings_unknown_requests
FROM llm_cache_savings_hourly
GROUP BY hour, app, environment, provider, model, team, feature, tenant;

-- 026_cost_daily_users.sql
CREATE TABLE IF NOT EXISTS llm_cost_daily_users_local ON CLUSTER llmledger
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
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (day, user_id, app, environment, provider, model, team, feature, tenant)
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS llm_cost_daily_users ON CLUSTER llmledger AS llm_cost_daily_users_local ENGINE = Distributed(llmledger, currentDatabase(), llm_cost_daily_users_local, cityHash64(day, user_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_daily_users_mv ON CLUSTER llmledger TO llm_cost_daily_users_local AS
SELECT
    toDate(timestamp, 'UTC') AS day,
    user_id, app, environment, provider, model, team, feature, tenant,
    count() AS requests,
    countIf(status = 'Error') AS errors,
    countIf(unpriced = 1) AS unpriced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(ifNull(cost, toDecimal128(0, 12))) AS cost
FROM llm_spans_local AS llm_spans
GROUP BY day, user_id, app, environment, provider, model, team, feature, tenant;

INSERT INTO llm_cost_daily_users
SELECT
    toDate(timestamp, 'UTC') AS day,
    user_id, app, environment, provider, model, team, feature, tenant,
    count(), countIf(status = 'Error'), countIf(unpriced = 1), sum(input_tokens), sum(output_tokens),
    sum(cache_read_tokens), sum(cache_write_tokens), sum(reasoning_tokens), sum(ifNull(cost, toDecimal128(0, 12)))
FROM llm_spans
GROUP BY day, user_id, app, environment, provider, model, team, feature, tenant
SETTINGS insert_deduplication_token = 'migration-026-backfill';

CREATE VIEW IF NOT EXISTS v_cost_daily_users ON CLUSTER llmledger AS
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
    sum(cost) AS cost
FROM llm_cost_daily_users
GROUP BY day, user_id, app, environment, provider, model, team, feature, tenant;
