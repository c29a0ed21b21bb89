-- What the cost-cutting strategies saved (issue: caching, routing, prompt caching).
--
-- On every LLM call, beside what it cost:
--   cache_kind            '' for a call the provider answered; 'exact' or 'semantic' when the
--                         instrumentation's response cache answered it (cost 0);
--   cache_source_*        the call whose stored answer was replayed;
--   requested_model       the model the app asked for, when routing sent the call elsewhere;
--   routing_reason        why (a routing rule, a budget's downgrade, a provider error's fallback);
--   saving_strategy       '' | 'exact_cache' | 'semantic_cache' | 'routing' | 'fallback';
--   saved_cost            what that strategy saved on this call: a cache hit's full price at the
--                         price in force, a routed call's price on the requested model minus its
--                         price on the model used (negative when the route was dearer); NULL when
--                         no price was found to value it;
--   prompt_cache_saved    the provider's own prompt caching: the cached input tokens (read and
--                         written) at the plain input rate minus what they were charged; negative
--                         when cache-write premiums outweighed the reads.
ALTER TABLE llm_spans
    ADD COLUMN IF NOT EXISTS cache_kind LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS cache_source_trace_id String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS cache_source_span_id String DEFAULT '' CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS requested_model LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS routing_reason LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS saving_strategy LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS saved_cost Nullable(Decimal(38, 12)),
    ADD COLUMN IF NOT EXISTS prompt_cache_saved Decimal(38, 12) DEFAULT 0;

-- Hourly savings by strategy: one row per call and strategy that applied to it (a routed call
-- that also read the provider's prompt cache counts under both).
CREATE TABLE IF NOT EXISTS llm_savings_hourly
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
    -- calls whose saving could not be valued (no price): counted, not summed
    unvalued_calls UInt64,
    saved Decimal(38, 12)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, strategy, app, environment, provider, model, requested_model, team, feature, tenant)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_savings_hourly_mv TO llm_savings_hourly AS
SELECT
    toStartOfHour(timestamp) AS hour,
    saving.1 AS strategy,
    app, environment, provider, model, requested_model, team, feature, tenant,
    count() AS calls,
    countIf(saving.2 IS NULL) AS unvalued_calls,
    sum(ifNull(saving.2, toDecimal128(0, 12))) AS saved
FROM llm_spans
ARRAY JOIN [
    (saving_strategy, saved_cost),
    (if(cache_kind = '' AND cache_read_tokens + cache_write_tokens > 0, 'prompt_cache', ''), CAST(prompt_cache_saved, 'Nullable(Decimal(38, 12))'))
] AS saving
WHERE saving.1 != ''
GROUP BY hour, strategy, app, environment, provider, model, requested_model, team, feature, tenant;

-- The savings view: the rollup with its not-yet-merged parts added up. Reports, the CLI and
-- the pages read savings here.
CREATE VIEW IF NOT EXISTS v_savings AS
SELECT
    hour, strategy, app, environment, provider, model, requested_model, team, feature, tenant,
    sum(calls) AS calls,
    sum(unvalued_calls) AS unvalued_calls,
    sum(saved) AS saved
FROM llm_savings_hourly
GROUP BY hour, strategy, app, environment, provider, model, requested_model, team, feature, tenant;
