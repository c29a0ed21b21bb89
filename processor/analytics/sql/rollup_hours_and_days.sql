-- The cost rollups over [start, end): the whole UTC days [days_start, days_end) from the
-- daily rollup (migration 028), the hours before and after them from the hourly one. Read
-- as a table named `rollup` with the hourly rollup's columns; its rows are not yet summed.
(
    SELECT toDateTime(hour, 'UTC') AS hour, app, environment, provider, model, team, feature, tenant, requests, errors,
           unpriced_requests, priced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
           reasoning_tokens, cost
    FROM llm_cost_hourly
    -- Two ranges of the key, not a NOT (...): the primary key then reads only those hours.
    WHERE (hour >= {start:DateTime64(6, 'UTC')} AND hour < {end:DateTime64(6, 'UTC')}
           AND hour < toDateTime({days_start:Date}, 'UTC'))
       OR (hour >= {start:DateTime64(6, 'UTC')} AND hour < {end:DateTime64(6, 'UTC')}
           AND hour >= toDateTime({days_end:Date}, 'UTC'))
    UNION ALL
    SELECT toDateTime(day, 'UTC') AS hour, app, environment, provider, model, team, feature, tenant, requests, errors,
           unpriced_requests, priced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
           reasoning_tokens, cost
    FROM llm_cost_daily
    WHERE day >= {days_start:Date} AND day < {days_end:Date}
) AS rollup
