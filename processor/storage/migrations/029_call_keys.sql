-- A call version's key (trace_id, span_id, row_version) as one 128-bit number, computed as
-- rows are inserted. "Has this version a cancel row?" (migration 020) then reads and hashes
-- 16 bytes per call instead of two strings, which made reading the current calls
-- (v_llm_calls) two to three times as costly as reading llm_spans. Two versions share a
-- key by chance with odds near 1e-23 even at a billion calls and a million corrections.
-- Parts written before this migration compute the key as they are read until the
-- MATERIALIZE mutation has rewritten them.
ALTER TABLE llm_spans
    ADD COLUMN IF NOT EXISTS call_key UInt128 MATERIALIZED reinterpretAsUInt128(sipHash128(trace_id, span_id, row_version));

ALTER TABLE llm_spans MATERIALIZE COLUMN call_key;

-- v_llm_calls of migration 027, its cancel check on the key.
CREATE OR REPLACE VIEW v_llm_calls AS
SELECT
    timestamp, trace_id, span_id, parent_span_id, service_name,
    app, environment, provider, operation, model, request_model, response_model, server_address,
    service_tier, streaming, user_id, session_id, team, feature, tenant, tags,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_tokens + output_tokens AS total_tokens,
    usage_reported, usage_source, cost, cost_details, price_source, price_version, unpriced,
    reported_cost, reported_cost_source, reported_cost_disagrees,
    duration_ns, time_to_first_chunk, status, error_type, response_id, instrumentation, row_version,
    cache_kind, cache_source_trace_id, cache_source_span_id, requested_model, routing_reason,
    saving_strategy, saved_cost, prompt_cache_saved,
    -- Signed, so that inconsistent counts (never priced) cannot wrap around.
    toInt64(input_tokens) - toInt64(cache_read_tokens) - toInt64(cache_write_tokens)
        + if(mapContains(cost_details, 'cache_write'), 0, toInt64(cache_write_tokens)) AS input_rate_tokens,
    (cost IS NOT NULL AND cache_read_tokens > 0
        AND mapContains(cost_details, 'cache_read') AND mapContains(cost_details, 'input')
        AND input_rate_tokens > 0) AS cache_savings_derivable,
    (cost IS NOT NULL AND cache_read_tokens > 0 AND NOT cache_savings_derivable
        AND NOT (mapContains(cost_details, 'input') AND NOT mapContains(cost_details, 'cache_read')))
        AS cache_savings_unknown,
    if(cache_savings_derivable,
       cost_details['input'] * cache_read_tokens / greatest(input_rate_tokens, 1) - cost_details['cache_read'],
       toDecimal128(0, 12)) AS cache_savings
FROM llm_spans
WHERE sign = 1
  AND call_key NOT IN (SELECT call_key FROM llm_spans WHERE sign = -1);
