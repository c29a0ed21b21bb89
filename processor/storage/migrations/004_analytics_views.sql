-- Named views for attribution: dashboards, reports and `llmledger costs` read these,
-- not raw tables. Times are UTC. Costs stay Decimal(38,12); a NULL cost means unpriced.

-- The hourly rollup with its not-yet-merged parts added up: one row per hour and
-- combination of app, environment, provider, model, team, feature and tenant.
-- `cost` counts priced calls only; `unpriced_requests` says how many were left out.
CREATE VIEW IF NOT EXISTS v_cost_hourly AS
SELECT
    hour, app, environment, provider, model, team, feature, tenant,
    sum(requests) AS requests,
    sum(errors) AS errors,
    sum(unpriced_requests) AS unpriced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    -- input_tokens and output_tokens here are the sums above (an alias wins over a column).
    input_tokens + output_tokens AS total_tokens,
    sum(cost) AS cost
FROM llm_cost_hourly
GROUP BY hour, app, environment, provider, model, team, feature, tenant;

-- The daily per-user rollup, added up the same way.
CREATE VIEW IF NOT EXISTS v_cost_daily_by_user AS
SELECT
    day, app, environment, user_id, tenant,
    sum(requests) AS requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost) AS cost
FROM llm_cost_daily_by_user
GROUP BY day, app, environment, user_id, tenant;

-- One row per LLM call with the figures reports derive from it.
--
-- Cache savings: what the call's cache-read tokens would have cost at its plain input
-- rate, minus what they did cost. The input rate is read off the call itself
-- (cost_details['input'] over the tokens billed at that rate), so it already reflects the
-- call's price version, long-context tier and service tier:
--     savings = cost_details['input'] x cache_read_tokens / input_rate_tokens
--               - cost_details['cache_read']
-- where input_rate_tokens = input_tokens - cache_read_tokens - cache_write_tokens, plus the
-- cache-write tokens when they had no price of their own (then billed as input). The
-- division is kept to 12 decimal places, rounded down.
-- A call whose cache reads had no price of their own paid the input rate: saving 0.
-- When the rate cannot be read off the call (every input token was a cache read, or a
-- reported cost without a breakdown) the saving is unknown: cache_savings is 0 and
-- cache_savings_unknown is 1, so reports can say how many calls they could not value.
CREATE VIEW IF NOT EXISTS v_llm_calls AS
SELECT
    timestamp, trace_id, span_id, parent_span_id, service_name,
    app, environment, provider, operation, model, request_model, response_model,
    service_tier, streaming, user_id, session_id, team, feature, tenant, tags,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_tokens + output_tokens AS total_tokens,
    cost, cost_details, price_source, price_version, unpriced,
    duration_ns, time_to_first_chunk, status, error_type,
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
FROM llm_spans;

-- Trace-level drilldown: what the LLM calls of one trace cost together. Look a trace up
-- by trace_id (the filter reaches llm_spans' trace_id index); the trace's spans of every
-- kind are in otel_traces under the same id.
CREATE VIEW IF NOT EXISTS v_trace_costs AS
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
    ifNull(sum(cost), toDecimal128(0, 12)) AS cost
FROM llm_spans
GROUP BY trace_id;
