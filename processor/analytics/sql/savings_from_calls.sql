-- Savings per value of one dimension from the per-call rows, for ranges that do not start
-- and end on whole hours or filters the rollup lacks. The same strategies as the rollup's
-- materialized view (migration 015): the call's own strategy, and provider prompt caching.
SELECT
    {key} AS key,
    count() AS calls,
    countIf(saving.2 IS NULL) AS unvalued_calls,
    sum(ifNull(saving.2, toDecimal128(0, 12))) AS saved
FROM v_llm_calls
ARRAY JOIN [
    (saving_strategy, saved_cost),
    (if(cache_kind = '' AND cache_read_tokens + cache_write_tokens > 0, 'prompt_cache', ''), CAST(prompt_cache_saved, 'Nullable(Decimal(38, 12))'))
] AS saving
WHERE saving.1 != '' AND timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')} {conditions}
GROUP BY key
ORDER BY saved DESC, key
