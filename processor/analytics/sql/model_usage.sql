-- Tokens by type and what they cost in [start, end), per provider, model and operation:
-- what a what-if re-prices on another model. Unpriced calls are counted apart and left out
-- of the token sums, so that the cost and the tokens describe the same calls.
-- The filters (whitelisted columns, query parameters) go in at the marker. Aliases differ
-- from the column names: in ClickHouse an alias would stand for its column in the sums.
SELECT
    provider,
    model,
    operation,
    count() AS calls,
    countIf(cost IS NULL) AS unpriced_calls,
    ifNull(sum(cost), toDecimal128(0, 12)) AS paid,
    sumIf(input_tokens, cost IS NOT NULL) AS priced_input_tokens,
    sumIf(output_tokens, cost IS NOT NULL) AS priced_output_tokens,
    sumIf(cache_read_tokens, cost IS NOT NULL) AS priced_cache_read_tokens,
    sumIf(cache_write_tokens, cost IS NOT NULL) AS priced_cache_write_tokens,
    sumIf(reasoning_tokens, cost IS NOT NULL) AS priced_reasoning_tokens,
    maxIf(input_tokens, cost IS NOT NULL) AS largest_input_tokens
FROM v_llm_calls
WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')}$conditions
GROUP BY provider, model, operation
ORDER BY paid DESC, provider, model, operation
