-- The views read each call's current row only (see 020), and a total with no priced call
-- in it is NULL ("unpriced"), never 0.

-- Rollups: cost is NULL where no call of the group has a cost.
CREATE OR REPLACE VIEW v_cost_hourly AS
SELECT
    hour, app, environment, provider, model, team, feature, tenant,
    sum(requests) AS requests,
    sum(errors) AS errors,
    sum(unpriced_requests) AS unpriced_requests,
    sum(priced_requests) AS priced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    -- input_tokens and output_tokens here are the sums above (an alias wins over a column).
    input_tokens + output_tokens AS total_tokens,
    if(priced_requests > 0, sum(cost), NULL) AS cost
FROM llm_cost_hourly
GROUP BY hour, app, environment, provider, model, team, feature, tenant
-- A group whose corrections cancelled every call is gone, as its calls are.
HAVING requests != 0 OR cost != 0;

CREATE OR REPLACE VIEW v_cost_daily_by_user AS
SELECT
    day, app, environment, user_id, tenant,
    sum(requests) AS requests,
    sum(priced_requests) AS priced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    if(priced_requests > 0, sum(cost), NULL) AS cost
FROM llm_cost_daily_by_user
GROUP BY day, app, environment, user_id, tenant
HAVING requests != 0 OR cost != 0;

-- One row per LLM call, its current version. Cache savings as in migration 004.
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
  AND (trace_id, span_id, row_version) NOT IN (SELECT trace_id, span_id, row_version FROM llm_spans WHERE sign = -1);

-- What the LLM calls of one trace cost together; cost NULL when none of them is priced.
CREATE OR REPLACE VIEW v_trace_costs AS
SELECT
    trace_id,
    min(timestamp) AS first_call,
    max(timestamp) AS last_call,
    groupUniqArray(app) AS apps,
    groupUniqArray(model) AS models,
    count() AS llm_calls,
    countIf(unpriced = 1) AS unpriced_calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    input_tokens + output_tokens AS total_tokens,
    sum(cost) AS cost
FROM v_llm_calls
GROUP BY trace_id;
