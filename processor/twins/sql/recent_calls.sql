-- The calls stored in the last wait window, current versions only: after a restart their
-- late twins must still be recognised.
SELECT
    trace_id, span_id, parent_span_id, toUnixTimestamp64Nano(timestamp) AS timestamp_ns, duration_ns,
    service_name, instrumentation, request_model, response_model, input_tokens, output_tokens,
    cache_read_tokens, cache_write_tokens, reasoning_tokens, usage_source, response_id, status, streaming
FROM v_llm_calls
WHERE timestamp >= now64(9) - toIntervalSecond({window_s:UInt32})
ORDER BY timestamp
LIMIT {limit:UInt32}
