-- What the LLM calls of one trace cost together.
SELECT
    trace_id, cost, llm_calls, unpriced_calls, input_tokens, output_tokens, total_tokens,
    toTimeZone(first_call, 'UTC') AS first_call,
    toTimeZone(last_call, 'UTC') AS last_call,
    arraySort(apps) AS apps,
    arraySort(models) AS models
FROM v_trace_costs
WHERE trace_id = {trace_id:String}
