-- The savings rollup (migration 015) adds up corrections like the cost rollups (021): every
-- measure weighted by the row's sign (migration 020).
DROP VIEW IF EXISTS llm_savings_hourly_mv;

ALTER TABLE llm_savings_hourly
    MODIFY COLUMN calls Int64,
    MODIFY COLUMN unvalued_calls Int64;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_savings_hourly_mv TO llm_savings_hourly AS
SELECT
    toStartOfHour(timestamp) AS hour,
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
GROUP BY hour, strategy, app, environment, provider, model, requested_model, team, feature, tenant;
