-- One typed row per LLM call, priced. Tokens follow the GenAI conventions: input_tokens
-- includes cache read and cache write tokens, output_tokens includes reasoning tokens.
-- cost is NULL (and unpriced = 1) when no price was found: never a silent 0.
CREATE TABLE IF NOT EXISTS llm_spans
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
    -- The model that served the call, falling back to the one asked for.
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
ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (app, toStartOfHour(timestamp), model, timestamp)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 10000;
