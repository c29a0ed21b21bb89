-- Spend per scope value in [range_start, range_end): the whole hours from the hourly rollup,
-- the partial hours at either end from raw rows. Hours are those of the rollup, which the
-- materialized view cut in the server's time zone. With a {tenant}, of that tenant's calls
-- only (the rollup keeps the tenant beside every other dimension).
-- $dimension is a column that both tables have (or '' for a budget on all calls); it is
-- chosen by the code from a fixed list, never taken from input.
WITH
    {range_start:DateTime('UTC')} AS range_start,
    {range_end:DateTime('UTC')} AS range_end,
    {tenant:String} AS tenant_filter,
    toStartOfHour(toTimeZone(range_start, timezone())) AS first_hour,
    if(first_hour = range_start, first_hour, first_hour + INTERVAL 1 HOUR) AS whole_from,
    toStartOfHour(toTimeZone(range_end, timezone())) AS whole_to
SELECT scope_value, sum(spend) AS spend
FROM
(
    SELECT $dimension AS scope_value, sum(cost) AS spend
    FROM llm_cost_hourly
    WHERE hour >= whole_from AND hour < whole_to AND scope_value IN {scope_values:Array(String)}
      AND (tenant_filter = '' OR tenant = tenant_filter)
    GROUP BY scope_value

    UNION ALL

    SELECT $dimension AS scope_value, sum(ifNull(cost, toDecimal128(0, 12)) * sign) AS spend
    FROM llm_spans
    -- Compared as DateTime64, like the column: against a DateTime, ClickHouse 26.9 loses the
    -- first rows of a part just below the upper bound.
    WHERE timestamp >= toDateTime64(range_start, 6) AND timestamp < toDateTime64(range_end, 6)
      AND NOT (timestamp >= toDateTime64(whole_from, 6) AND timestamp < toDateTime64(whole_to, 6))
      AND scope_value IN {scope_values:Array(String)}
      AND (tenant_filter = '' OR tenant = tenant_filter)
    GROUP BY scope_value
)
GROUP BY scope_value
