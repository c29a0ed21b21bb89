-- Spend by the tag {rollup_tag} over the whole UTC days [days_start, days_end), as a table
-- named `rollup` whose `tags` map holds that one tag: the tagged calls from the tag rollup
-- (migration 028), and under "" the calls without it: all calls (the daily rollup) less the
-- tagged ones. Its rows are not yet summed, and sum up as the calls' own rows would.
(
    SELECT toDateTime(day, 'UTC') AS day_start, map(tag_name, tag_value) AS tags, app, environment, provider, model,
           team, feature, tenant, requests, errors, unpriced_requests, priced_requests, input_tokens, output_tokens,
           cache_read_tokens, cache_write_tokens, reasoning_tokens, cost
    FROM llm_tag_cost_daily
    WHERE day >= {days_start:Date} AND day < {days_end:Date} AND tag_name = {rollup_tag:String}
    UNION ALL
    SELECT toDateTime(day, 'UTC') AS day_start, map({rollup_tag:String}, '') AS tags, app, environment, provider, model,
           team, feature, tenant, requests, errors, unpriced_requests, priced_requests, input_tokens, output_tokens,
           cache_read_tokens, cache_write_tokens, reasoning_tokens, cost
    FROM llm_cost_daily
    WHERE day >= {days_start:Date} AND day < {days_end:Date}
    UNION ALL
    SELECT toDateTime(day, 'UTC') AS day_start, map({rollup_tag:String}, '') AS tags, app, environment, provider, model,
           team, feature, tenant, -requests, -errors, -unpriced_requests, -priced_requests, -input_tokens,
           -output_tokens, -cache_read_tokens, -cache_write_tokens, -reasoning_tokens, -cost
    FROM llm_tag_cost_daily
    WHERE day >= {days_start:Date} AND day < {days_end:Date} AND tag_name = {rollup_tag:String}
) AS rollup
