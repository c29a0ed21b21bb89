-- The current rows a re-pricing looks at: calls in [start, end), optionally of one model,
-- that used tokens (a provider's own bill is left as it is).
SELECT
    trace_id, span_id, row_version, toUnixTimestamp64Nano(timestamp) AS timestamp_ns,
    provider, server_address, operation, request_model, response_model, model, service_tier,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    usage_reported, usage_source, status, cost, cost_details, price_source, price_version, unpriced,
    reported_cost
FROM v_llm_calls
WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')}
  AND ({model:String} = '' OR model = {model:String} OR request_model = {model:String})
  AND price_source != 'billed'
ORDER BY timestamp, trace_id, span_id
