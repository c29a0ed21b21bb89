-- The most expensive LLM calls in [start, end): a top-N over the calls themselves (no
-- rollup knows single calls), among the calls of the traces expensive_call_candidates.sql
-- found (the bloom filter on trace_id skips the rest). Unpriced calls come last. The
-- filters, built by the code from whitelisted columns and query parameters, go in at the marker.
SELECT
    toTimeZone(timestamp, 'UTC') AS timestamp, trace_id, span_id, app, environment, provider, operation, model,
    user_id, team, feature, tenant, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    reasoning_tokens, cost, unpriced, cost_details, price_source, duration_ns, status
FROM v_llm_calls
WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')}
  AND trace_id IN {trace_ids:Array(String)}$conditions
ORDER BY cost DESC NULLS LAST, timestamp DESC, span_id
LIMIT {limit:UInt32}
