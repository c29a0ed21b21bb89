-- Savings per value of one dimension from the per-call rows, for ranges that do not start
-- and end on whole hours or filters the rollup lacks. The same strategies as the rollup's
-- materialized view (migrations 015, 024): the call's own strategy, and provider prompt
-- caching, weighted by sign so that corrections leave the current calls only.
SELECT
    {key} AS key,
    sum(sign) AS calls,
    sumIf(sign, saving.2 IS NULL) AS unvalued_calls,
    sum(ifNull(saving.2, toDecimal128(0, 12)) * sign) AS saved
FROM llm_spans
ARRAY JOIN [
    (saving_strategy, saved_cost),
    (if(cache_kind = '' AND cache_read_tokens + cache_write_tokens > 0, 'prompt_cache', ''), CAST(prompt_cache_saved, 'Nullable(Decimal(38, 12))'))
] AS saving
WHERE saving.1 != '' AND timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')} {conditions}
GROUP BY key
HAVING calls != 0 OR saved != 0
ORDER BY saved DESC, key
