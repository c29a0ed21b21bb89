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

-- 009_budget_tenant.sql
ALTER TABLE budgets ON CLUSTER llmledger ADD COLUMN IF NOT EXISTS tenant String DEFAULT '' AFTER scope_value;

CREATE OR REPLACE VIEW budgets_current ON CLUSTER llmledger AS
SELECT
    id,
    scope,
    scope_value,
    tenant,
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

-- 010_otel_logs.sql
CREATE TABLE IF NOT EXISTS otel_logs_local ON CLUSTER llmledger
(
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    EventName String CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime)
ORDER BY (ServiceName, TimestampTime, Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS otel_logs ON CLUSTER llmledger AS otel_logs_local ENGINE = Distributed(llmledger, currentDatabase(), otel_logs_local, cityHash64(TraceId, Timestamp));

-- 011_otel_metrics.sql
CREATE TABLE IF NOT EXISTS otel_metrics_gauge_local ON CLUSTER llmledger
(
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Exemplars Nested
    (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime,
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS otel_metrics_gauge ON CLUSTER llmledger AS otel_metrics_gauge_local ENGINE = Distributed(llmledger, currentDatabase(), otel_metrics_gauge_local, cityHash64(ServiceName, MetricName, cityHash64(Attributes)));

CREATE TABLE IF NOT EXISTS otel_metrics_sum_local ON CLUSTER llmledger
(
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Exemplars Nested
    (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime,
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS otel_metrics_sum ON CLUSTER llmledger AS otel_metrics_sum_local ENGINE = Distributed(llmledger, currentDatabase(), otel_metrics_sum_local, cityHash64(ServiceName, MetricName, cityHash64(Attributes)));

CREATE TABLE IF NOT EXISTS otel_metrics_histogram_local ON CLUSTER llmledger
(
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
    Exemplars Nested
    (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime,
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS otel_metrics_histogram ON CLUSTER llmledger AS otel_metrics_histogram_local ENGINE = Distributed(llmledger, currentDatabase(), otel_metrics_histogram_local, cityHash64(ServiceName, MetricName, cityHash64(Attributes)));

CREATE TABLE IF NOT EXISTS otel_metrics_exponential_histogram_local ON CLUSTER llmledger
(
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    Scale Int32 CODEC(ZSTD(1)),
    ZeroCount UInt64 CODEC(ZSTD(1)),
    PositiveOffset Int32 CODEC(ZSTD(1)),
    PositiveBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    NegativeOffset Int32 CODEC(ZSTD(1)),
    NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    Exemplars Nested
    (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime,
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS otel_metrics_exponential_histogram ON CLUSTER llmledger AS otel_metrics_exponential_histogram_local ENGINE = Distributed(llmledger, currentDatabase(), otel_metrics_exponential_histogram_local, cityHash64(ServiceName, MetricName, cityHash64(Attributes)));

CREATE TABLE IF NOT EXISTS otel_metrics_summary_local ON CLUSTER llmledger
(
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    ValueAtQuantiles Nested
    (
        Quantile Float64,
        Value Float64
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS otel_metrics_summary ON CLUSTER llmledger AS otel_metrics_summary_local ENGINE = Distributed(llmledger, currentDatabase(), otel_metrics_summary_local, cityHash64(ServiceName, MetricName, cityHash64(Attributes)));

-- 015_savings.sql
ALTER TABLE llm_spans_local ON CLUSTER llmledger
    ADD COLUMN IF NOT EXISTS cache_kind LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS cache_source_trace_id String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS cache_source_span_id String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS requested_model LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS routing_reason LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS saving_strategy LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS saved_cost Nullable(Decimal(38, 12)),
    ADD COLUMN IF NOT EXISTS prompt_cache_saved Decimal(38, 12) DEFAULT 0;

ALTER TABLE llm_spans ON CLUSTER llmledger
    ADD COLUMN IF NOT EXISTS cache_kind LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS cache_source_trace_id String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS cache_source_span_id String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS requested_model LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS routing_reason LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS saving_strategy LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS saved_cost Nullable(Decimal(38, 12)),
    ADD COLUMN IF NOT EXISTS prompt_cache_saved Decimal(38, 12) DEFAULT 0;

CREATE TABLE IF NOT EXISTS llm_savings_hourly_local ON CLUSTER llmledger
(
    hour DateTime,
    strategy LowCardinality(String),
    app LowCardinality(String),
    environment LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    requested_model LowCardinality(String),
    team LowCardinality(String),
    feature LowCardinality(String),
    tenant LowCardinality(String),
    calls UInt64,
    unvalued_calls UInt64,
    saved Decimal(38, 12)
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, strategy, app, environment, provider, model, requested_model, team, feature, tenant)
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS llm_savings_hourly ON CLUSTER llmledger AS llm_savings_hourly_local ENGINE = Distributed(llmledger, currentDatabase(), llm_savings_hourly_local, cityHash64(hour, app));

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_savings_hourly_mv ON CLUSTER llmledger TO llm_savings_hourly_local AS
SELECT
    toStartOfHour(timestamp) AS hour,
    saving.1 AS strategy,
    app, environment, provider, model, requested_model, team, feature, tenant,
    count() AS calls,
    countIf(saving.2 IS NULL) AS unvalued_calls,
    sum(ifNull(saving.2, toDecimal128(0, 12))) AS saved
FROM llm_spans_local AS llm_spans
ARRAY JOIN [
    (saving_strategy, saved_cost),
    (if(cache_kind = '' AND cache_read_tokens + cache_write_tokens > 0, 'prompt_cache', ''), CAST(prompt_cache_saved, 'Nullable(Decimal(38, 12))'))
] AS saving
WHERE saving.1 != ''
GROUP BY hour, strategy, app, environment, provider, model, requested_model, team, feature, tenant;

CREATE VIEW IF NOT EXISTS v_savings ON CLUSTER llmledger AS
SELECT
    hour, strategy, app, environment, provider, model, requested_model, team, feature, tenant,
    sum(calls) AS calls,
    sum(unvalued_calls) AS unvalued_calls,
    sum(saved) AS saved
FROM llm_savings_hourly
GROUP BY hour, strategy, app, environment, provider, model, requested_model, team, feature, tenant;

-- 020_llm_spans_versions.sql
ALTER TABLE llm_spans_local ON CLUSTER llmledger
    ADD COLUMN IF NOT EXISTS sign Int8 DEFAULT 1,
    ADD COLUMN IF NOT EXISTS row_version UInt32 DEFAULT 1,
    ADD COLUMN IF NOT EXISTS response_id String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS instrumentation LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS usage_source LowCardinality(String) DEFAULT if(usage_reported, 'provider', 'absent'),
    ADD COLUMN IF NOT EXISTS reported_cost Nullable(Decimal(38, 12)),
    ADD COLUMN IF NOT EXISTS reported_cost_source LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS reported_cost_disagrees UInt8 DEFAULT 0;

ALTER TABLE llm_spans ON CLUSTER llmledger
    ADD COLUMN IF NOT EXISTS sign Int8 DEFAULT 1,
    ADD COLUMN IF NOT EXISTS row_version UInt32 DEFAULT 1,
    ADD COLUMN IF NOT EXISTS response_id String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS instrumentation LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS usage_source LowCardinality(String) DEFAULT if(usage_reported, 'provider', 'absent'),
    ADD COLUMN IF NOT EXISTS reported_cost Nullable(Decimal(38, 12)),
    ADD COLUMN IF NOT EXISTS reported_cost_source LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS reported_cost_disagrees UInt8 DEFAULT 0;

ALTER TABLE llm_spans_local ON CLUSTER llmledger ADD INDEX IF NOT EXISTS idx_sign sign TYPE set(2) GRANULARITY 1;

ALTER TABLE llm_spans_local ON CLUSTER llmledger ADD INDEX IF NOT EXISTS idx_response_id response_id TYPE bloom_filter(0.01) GRANULARITY 1;

-- 021_signed_rollups.sql
DROP VIEW IF EXISTS llm_cost_hourly_mv ON CLUSTER llmledger;

DROP VIEW IF EXISTS llm_cost_daily_by_user_mv ON CLUSTER llmledger;

ALTER TABLE llm_cost_hourly_local ON CLUSTER llmledger
    MODIFY COLUMN requests Int64,
    MODIFY COLUMN errors Int64,
    MODIFY COLUMN unpriced_requests Int64,
    MODIFY COLUMN input_tokens Int64,
    MODIFY COLUMN output_tokens Int64,
    MODIFY COLUMN cache_read_tokens Int64,
    MODIFY COLUMN cache_write_tokens Int64,
    MODIFY COLUMN reasoning_tokens Int64;

ALTER TABLE llm_cost_hourly ON CLUSTER llmledger
    MODIFY COLUMN requests Int64,
    MODIFY COLUMN errors Int64,
    MODIFY COLUMN unpriced_requests Int64,
    MODIFY COLUMN input_tokens Int64,
    MODIFY COLUMN output_tokens Int64,
    MODIFY COLUMN cache_read_tokens Int64,
    MODIFY COLUMN cache_write_tokens Int64,
    MODIFY COLUMN reasoning_tokens Int64;

ALTER TABLE llm_cost_hourly_local ON CLUSTER llmledger ADD COLUMN IF NOT EXISTS priced_requests Int64 DEFAULT requests - unpriced_requests;

ALTER TABLE llm_cost_hourly ON CLUSTER llmledger ADD COLUMN IF NOT EXISTS priced_requests Int64 DEFAULT requests - unpriced_requests;

ALTER TABLE llm_cost_daily_by_user_local ON CLUSTER llmledger
    MODIFY COLUMN requests Int64,
    MODIFY COLUMN input_tokens Int64,
    MODIFY COLUMN output_tokens Int64;

ALTER TABLE llm_cost_daily_by_user ON CLUSTER llmledger
    MODIFY COLUMN requests Int64,
    MODIFY COLUMN input_tokens Int64,
    MODIFY COLUMN output_tokens Int64;

ALTER TABLE llm_cost_daily_by_user_local ON CLUSTER llmledger ADD COLUMN IF NOT EXISTS priced_requests Int64 DEFAULT requests;

ALTER TABLE llm_cost_daily_by_user ON CLUSTER llmledger ADD COLUMN IF NOT EXISTS priced_requests Int64 DEFAULT requests;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_hourly_mv ON CLUSTER llmledger TO llm_cost_hourly_local AS
SELECT
    toStartOfHour(timestamp) AS hour,
    app, environment, provider, model, team, feature, tenant,
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
FROM llm_spans_local AS llm_spans
GROUP BY hour, app, environment, provider, model, team, feature, tenant;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_daily_by_user_mv ON CLUSTER llmledger TO llm_cost_daily_by_user_local AS
SELECT
    toDate(timestamp) AS day,
    app, environment, user_id, tenant,
    sum(sign) AS requests,
    sumIf(sign, llm_spans.cost IS NOT NULL) AS priced_requests,
    sum(toInt64(llm_spans.input_tokens) * sign) AS input_tokens,
    sum(toInt64(llm_spans.output_tokens) * sign) AS output_tokens,
    sum(ifNull(llm_spans.cost, toDecimal128(0, 12)) * sign) AS cost
FROM llm_spans_local AS llm_spans
GROUP BY day, app, environment, user_id, tenant;

-- 022_current_call_views.sql
CREATE OR REPLACE VIEW v_cost_hourly ON CLUSTER llmledger AS
SELECT
    hour, app, environment, provider, model, team, feature, tenant,
    sum(requests) AS requests,
    sum(errors) AS errors,
    sum(unpriced_requests) AS unpriced_requests,
    sum(priced_requests) AS priced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    input_tokens + output_tokens AS total_tokens,
    if(priced_requests > 0, sum(cost), NULL) AS cost
FROM llm_cost_hourly
GROUP BY hour, app, environment, provider, model, team, feature, tenant
HAVING requests != 0 OR cost != 0;

CREATE OR REPLACE VIEW v_cost_daily_by_user ON CLUSTER llmledger AS
SELECT
    day, app, environment, user_id, tenant,
    sum(requests) AS requests,
    sum(priced_requests) AS priced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    if(priced_requests > 0, sum(cost), NULL) AS cost
FROM llm_cost_daily_by_user
GROUP BY day, app, environment, user_id, tenant
HAVING requests != 0 OR cost != 0;

CREATE OR REPLACE VIEW v_llm_calls ON CLUSTER llmledger AS
SELECT
    timestamp, trace_id, span_id, parent_span_id, service_name,
    app, environment, provider, operation, model, request_model, response_model, server_address,
    service_tier, streaming, user_id, session_id, team, feature, tenant, tags,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_tokens + output_tokens AS total_tokens,
    usage_reported, usage_source, cost, cost_details, price_source, price_version, unpriced,
    reported_cost, reported_cost_source, reported_cost_disagrees,
    duration_ns, time_to_first_chunk, status, error_type, response_id, instrumentation, row_version,
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
FROM llm_spans
WHERE sign = 1
  AND (trace_id, span_id, row_version) NOT IN (SELECT trace_id, span_id, row_version FROM llm_spans WHERE sign = -1);

CREATE OR REPLACE VIEW v_trace_costs ON CLUSTER llmledger AS
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
    sum(cost) AS cost
FROM v_llm_calls
GROUP BY trace_id;

-- 023_repricing_log.sql
CREATE TABLE IF NOT EXISTS repricing_log ON CLUSTER llmledger
(
    id String,
    ran_at DateTime64(6, 'UTC'),
    ran_by String,
    reason String,
    range_start DateTime64(9, 'UTC'),
    range_end DateTime64(9, 'UTC'),
    model_filter String,
    price_book String,
    catalog_version String,
    rows_examined UInt64,
    rows_repriced UInt64,
    cost_before Nullable(Decimal(38, 12)),
    cost_after Nullable(Decimal(38, 12))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
ORDER BY ran_at
SETTINGS replicated_deduplication_window = 0;

-- 024_signed_savings_rollup.sql
DROP VIEW IF EXISTS llm_savings_hourly_mv ON CLUSTER llmledger;

ALTER TABLE llm_savings_hourly_local ON CLUSTER llmledger
    MODIFY COLUMN calls Int64,
    MODIFY COLUMN unvalued_calls Int64;

ALTER TABLE llm_savings_hourly ON CLUSTER llmledger
    MODIFY COLUMN calls Int64,
    MODIFY COLUMN unvalued_calls Int64;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_savings_hourly_mv ON CLUSTER llmledger TO llm_savings_hourly_local AS
SELECT
    toStartOfHour(timestamp) AS hour,
    saving.1 AS strategy,
    app, environment, provider, model, requested_model, team, feature, tenant,
    sum(sign) AS calls,
    sumIf(sign, saving.2 IS NULL) AS unvalued_calls,
    sum(ifNull(saving.2, toDecimal128(0, 12)) * sign) AS saved
FROM llm_spans_local AS llm_spans
ARRAY JOIN [
    (saving_strategy, saved_cost),
    (if(cache_kind = '' AND cache_read_tokens + cache_write_tokens > 0, 'prompt_cache', ''), CAST(prompt_cache_saved, 'Nullable(Decimal(38, 12))'))
] AS saving
WHERE saving.1 != ''
GROUP BY hour, strategy, app, environment, provider, model, requested_model, team, feature, tenant;

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
    priced_requests Int64,
    priced_tokens Int64,
    cache_savings Decimal(38, 12),
    cache_savings_unknown_requests Int64
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
    requests Int64,
    errors Int64,
    unpriced_requests Int64,
    input_tokens Int64,
    output_tokens Int64,
    cache_read_tokens Int64,
    cache_write_tokens Int64,
    reasoning_tokens Int64,
    cost Decimal(38, 12),
    priced_requests Int64
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
FROM llm_spans_local AS llm_spans
GROUP BY day, user_id, app, environment, provider, model, team, feature, tenant;

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
    sum(priced_requests) AS priced_requests,
    if(priced_requests > 0, sum(cost), NULL) AS cost
FROM llm_cost_daily_users
GROUP BY day, user_id, app, environment, provider, model, team, feature, tenant
HAVING requests != 0 OR cost != 0;

-- 027_current_calls_savings_columns.sql
CREATE OR REPLACE VIEW v_llm_calls ON CLUSTER llmledger AS
SELECT
    timestamp, trace_id, span_id, parent_span_id, service_name,
    app, environment, provider, operation, model, request_model, response_model, server_address,
    service_tier, streaming, user_id, session_id, team, feature, tenant, tags,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_tokens + output_tokens AS total_tokens,
    usage_reported, usage_source, cost, cost_details, price_source, price_version, unpriced,
    reported_cost, reported_cost_source, reported_cost_disagrees,
    duration_ns, time_to_first_chunk, status, error_type, response_id, instrumentation, row_version,
    cache_kind, cache_source_trace_id, cache_source_span_id, requested_model, routing_reason,
    saving_strategy, saved_cost, prompt_cache_saved,
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
FROM llm_spans
WHERE sign = 1
  AND (trace_id, span_id, row_version) NOT IN (SELECT trace_id, span_id, row_version FROM llm_spans WHERE sign = -1);

-- 028_daily_rollups.sql
CREATE TABLE IF NOT EXISTS llm_cost_daily_local ON CLUSTER llmledger
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
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (day, app, environment, provider, model, team, feature, tenant)
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS llm_cost_daily ON CLUSTER llmledger AS llm_cost_daily_local ENGINE = Distributed(llmledger, currentDatabase(), llm_cost_daily_local, cityHash64(day, app));

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_daily_mv ON CLUSTER llmledger TO llm_cost_daily_local AS
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
    FROM llm_spans_local AS llm_spans
) AS calls
GROUP BY day, app, environment, provider, model, team, feature, tenant;

CREATE TABLE IF NOT EXISTS llm_user_cost_daily_local ON CLUSTER llmledger
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
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (day, user_id)
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS llm_user_cost_daily ON CLUSTER llmledger AS llm_user_cost_daily_local ENGINE = Distributed(llmledger, currentDatabase(), llm_user_cost_daily_local, cityHash64(day, user_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_user_cost_daily_mv ON CLUSTER llmledger TO llm_user_cost_daily_local AS
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
FROM llm_spans_local AS llm_spans
GROUP BY day, user_id;

CREATE TABLE IF NOT EXISTS llm_tag_cost_daily_local ON CLUSTER llmledger
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
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (day, tag_name, tag_value, app, environment, provider, model, team, feature, tenant)
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS llm_tag_cost_daily ON CLUSTER llmledger AS llm_tag_cost_daily_local ENGINE = Distributed(llmledger, currentDatabase(), llm_tag_cost_daily_local, cityHash64(day, tag_name, tag_value));

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_tag_cost_daily_mv ON CLUSTER llmledger TO llm_tag_cost_daily_local AS
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
FROM llm_spans_local AS llm_spans
ARRAY JOIN mapKeys(tags) AS tag_name, mapValues(tags) AS tag_value
GROUP BY day, tag_name, tag_value, app, environment, provider, model, team, feature, tenant;

CREATE TABLE IF NOT EXISTS llm_savings_daily_local ON CLUSTER llmledger
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
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (day, strategy, app, environment, provider, model, requested_model, team, feature, tenant)
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS llm_savings_daily ON CLUSTER llmledger AS llm_savings_daily_local ENGINE = Distributed(llmledger, currentDatabase(), llm_savings_daily_local, cityHash64(day, app));

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_savings_daily_mv ON CLUSTER llmledger TO llm_savings_daily_local AS
SELECT
    toDate(timestamp, 'UTC') AS day,
    saving.1 AS strategy,
    app, environment, provider, model, requested_model, team, feature, tenant,
    sum(sign) AS calls,
    sumIf(sign, saving.2 IS NULL) AS unvalued_calls,
    sum(ifNull(saving.2, toDecimal128(0, 12)) * sign) AS saved
FROM llm_spans_local AS llm_spans
ARRAY JOIN [
    (saving_strategy, saved_cost),
    (if(cache_kind = '' AND cache_read_tokens + cache_write_tokens > 0, 'prompt_cache', ''), CAST(prompt_cache_saved, 'Nullable(Decimal(38, 12))'))
] AS saving
WHERE saving.1 != ''
GROUP BY day, strategy, app, environment, provider, model, requested_model, team, feature, tenant;

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

-- 029_call_keys.sql
ALTER TABLE llm_spans_local ON CLUSTER llmledger
    ADD COLUMN IF NOT EXISTS call_key UInt128 MATERIALIZED reinterpretAsUInt128(sipHash128(trace_id, span_id, row_version));

ALTER TABLE llm_spans ON CLUSTER llmledger
    ADD COLUMN IF NOT EXISTS call_key UInt128 MATERIALIZED reinterpretAsUInt128(sipHash128(trace_id, span_id, row_version));

ALTER TABLE llm_spans_local ON CLUSTER llmledger MATERIALIZE COLUMN call_key;

CREATE OR REPLACE VIEW v_llm_calls ON CLUSTER llmledger AS
SELECT
    timestamp, trace_id, span_id, parent_span_id, service_name,
    app, environment, provider, operation, model, request_model, response_model, server_address,
    service_tier, streaming, user_id, session_id, team, feature, tenant, tags,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_tokens + output_tokens AS total_tokens,
    usage_reported, usage_source, cost, cost_details, price_source, price_version, unpriced,
    reported_cost, reported_cost_source, reported_cost_disagrees,
    duration_ns, time_to_first_chunk, status, error_type, response_id, instrumentation, row_version,
    cache_kind, cache_source_trace_id, cache_source_span_id, requested_model, routing_reason,
    saving_strategy, saved_cost, prompt_cache_saved,
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
FROM llm_spans
WHERE sign = 1
  AND call_key NOT IN (SELECT call_key FROM llm_spans WHERE sign = -1);

-- 030_anomaly_rollups.sql
CREATE TABLE IF NOT EXISTS llm_app_model_hourly_local ON CLUSTER llmledger
(
    hour DateTime('UTC'),
    app LowCardinality(String),
    model LowCardinality(String),
    requests Int64,
    priced_requests Int64,
    cost Decimal(38, 12)
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, app, model)
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS llm_app_model_hourly ON CLUSTER llmledger AS llm_app_model_hourly_local ENGINE = Distributed(llmledger, currentDatabase(), llm_app_model_hourly_local, cityHash64(hour, app));

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_app_model_hourly_mv ON CLUSTER llmledger TO llm_app_model_hourly_local AS
SELECT
    toStartOfHour(timestamp) AS hour,
    app,
    model,
    sum(sign) AS requests,
    sumIf(sign, llm_spans.cost IS NOT NULL) AS priced_requests,
    sum(ifNull(llm_spans.cost, toDecimal128(0, 12)) * sign) AS cost
FROM llm_spans_local AS llm_spans
GROUP BY hour, app, model;

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

CREATE TABLE IF NOT EXISTS llm_cost_histogram_daily_local ON CLUSTER llmledger
(
    day Date,
    app LowCardinality(String),
    model LowCardinality(String),
    bucket Int16,
    calls Int64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (day, app, model, bucket)
SETTINGS replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS llm_cost_histogram_daily ON CLUSTER llmledger AS llm_cost_histogram_daily_local ENGINE = Distributed(llmledger, currentDatabase(), llm_cost_histogram_daily_local, cityHash64(day, app));

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_histogram_daily_mv ON CLUSTER llmledger TO llm_cost_histogram_daily_local AS
SELECT
    toDate(timestamp, 'UTC') AS day,
    app,
    model,
    toInt16(if(llm_spans.cost > 0, floor(8 * log2(toFloat64(llm_spans.cost))), -32768)) AS bucket,
    sum(sign) AS calls
FROM llm_spans_local AS llm_spans
WHERE llm_spans.cost IS NOT NULL
GROUP BY day, app, model, bucket;

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
