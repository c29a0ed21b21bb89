-- The tokens of one model's calls (cache hits left out: they used no tokens), added up per
-- hour (priced at the price in force at the hour's start) and per long-context step: a
-- step re-prices every token of a call, so calls are grouped by how many of the other
-- model's step thresholds their input exceeds.
SELECT
    toStartOfHour(timestamp) AS hour,
    provider, server_address, service_tier, operation,
    arrayCount(t -> input_tokens > t, {thresholds:Array(UInt64)}) AS step,
    min(input_tokens) AS step_input_tokens,
    count() AS calls,
    countIf(cost IS NULL) AS unpriced_calls,
    ifNull(sum(cost), toDecimal128(0, 12)) AS paid,
    sum(input_tokens) AS sum_input_tokens,
    sum(output_tokens) AS sum_output_tokens,
    sum(cache_read_tokens) AS sum_cache_read_tokens,
    sum(cache_write_tokens) AS sum_cache_write_tokens,
    sum(reasoning_tokens) AS sum_reasoning_tokens
FROM v_llm_calls
WHERE (request_model = {from_model:String} OR response_model = {from_model:String})
    AND cache_kind = ''
    AND timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')} {conditions}
GROUP BY hour, provider, server_address, service_tier, operation, step
ORDER BY hour
