-- Models with unpriced calls in [start, end), from the hourly rollup: what needs a price.
-- The filters (whitelisted columns, query parameters) are added by the code at the marker.
SELECT
    provider,
    model,
    sum(unpriced_requests) AS unpriced_calls,
    toTimeZone(maxIf(hour, unpriced_requests > 0), 'UTC') AS last_hour
FROM llm_cost_hourly
WHERE hour >= {start:DateTime64(6, 'UTC')} AND hour < {end:DateTime64(6, 'UTC')}$conditions
GROUP BY provider, model
HAVING unpriced_calls > 0
ORDER BY unpriced_calls DESC, provider, model
