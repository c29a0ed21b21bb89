-- Every LLM call of one trace with its tokens by type and cost by component.
SELECT
    toTimeZone(timestamp, 'UTC') AS timestamp, trace_id, span_id, app, environment, provider, operation, model,
    user_id, team, feature, tenant, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    reasoning_tokens, cost, unpriced, cost_details, price_source, duration_ns, status
FROM v_llm_calls
WHERE trace_id = {trace_id:String}
ORDER BY timestamp, span_id
