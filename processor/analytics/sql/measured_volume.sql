-- The measured token volume and what it cost at API prices: calls the providers answered
-- (cache hits left out), priced calls only, so that the cost per token is a true average.
SELECT
    count() AS calls,
    countIf(cost IS NULL) AS unpriced_calls,
    sumIf(input_tokens, cost IS NOT NULL) AS priced_input_tokens,
    sumIf(output_tokens, cost IS NOT NULL) AS priced_output_tokens,
    ifNull(sum(cost), toDecimal128(0, 12)) AS paid
FROM v_llm_calls
WHERE cache_kind = ''
    AND timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')} {conditions}
