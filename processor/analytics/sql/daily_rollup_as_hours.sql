-- The daily cost rollup (migration 028) read where hourly rows are expected, a day's row
-- at the day's first hour: for daily buckets over whole UTC days.
(
    SELECT toDateTime(day, 'UTC') AS hour, app, environment, provider, model, team, feature, tenant, requests,
           priced_requests, cost
    FROM llm_cost_daily
)
