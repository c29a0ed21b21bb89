-- The cache-savings measures over [start, end) as rollup_hours_and_days.sql reads the costs:
-- whole UTC days from the daily rollup, the hours around them from migration 025's.
(
    SELECT toDateTime(hour, 'UTC') AS hour, app, environment, provider, model, team, feature, tenant, priced_requests,
           priced_tokens, cache_savings, cache_savings_unknown_requests
    FROM llm_cache_savings_hourly
    -- Two ranges of the key, not a NOT (...): the primary key then reads only those hours.
    WHERE (hour >= {start:DateTime64(6, 'UTC')} AND hour < {end:DateTime64(6, 'UTC')}
           AND hour < toDateTime({days_start:Date}, 'UTC'))
       OR (hour >= {start:DateTime64(6, 'UTC')} AND hour < {end:DateTime64(6, 'UTC')}
           AND hour >= toDateTime({days_end:Date}, 'UTC'))
    UNION ALL
    SELECT toDateTime(day, 'UTC') AS hour, app, environment, provider, model, team, feature, tenant, priced_requests,
           priced_tokens, cache_savings, cache_savings_unknown_requests
    FROM llm_cost_daily
    WHERE day >= {days_start:Date} AND day < {days_end:Date}
) AS rollup
