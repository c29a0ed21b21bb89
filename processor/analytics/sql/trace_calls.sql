-- The LLM calls of one trace, in the order they started.
SELECT
    toTimeZone(timestamp, 'UTC') AS timestamp, span_id, parent_span_id, app, provider, operation, model,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost, status, duration_ns
FROM v_llm_calls
WHERE trace_id = {trace_id:String}
ORDER BY timestamp, span_id
