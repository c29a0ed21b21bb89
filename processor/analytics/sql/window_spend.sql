-- What the calls cost in each window [{starts}[i], {ends}[i]) at once, for windows that begin
-- at a UTC midnight and end on a whole hour (today, this week, this month so far and the
-- stretches before them): the whole days of a window from the daily rollup, the hours of its
-- last, partial day ({last_days}[i], its midnight) from the hourly one. A row counts in a
-- window when it is a day inside it before its last day, or an hour of that last day (none
-- for a window that ends at midnight). The filters (whitelisted columns, query parameters)
-- go in at the marker.
SELECT
    sumForEach(arrayMap((first, last_day, stop) -> if(t >= first AND if(is_day, t < last_day, t >= last_day AND t < stop),
                                                      rows.requests, 0),
                        {starts:Array(DateTime('UTC'))}, {last_days:Array(DateTime('UTC'))}, {ends:Array(DateTime('UTC'))})) AS requests,
    sumForEach(arrayMap((first, last_day, stop) -> if(t >= first AND if(is_day, t < last_day, t >= last_day AND t < stop),
                                                      rows.unpriced_requests, 0),
                        {starts:Array(DateTime('UTC'))}, {last_days:Array(DateTime('UTC'))}, {ends:Array(DateTime('UTC'))})) AS unpriced_requests,
    sumForEach(arrayMap((first, last_day, stop) -> if(t >= first AND if(is_day, t < last_day, t >= last_day AND t < stop),
                                                      rows.priced_requests, 0),
                        {starts:Array(DateTime('UTC'))}, {last_days:Array(DateTime('UTC'))}, {ends:Array(DateTime('UTC'))})) AS priced_requests,
    sumForEach(arrayMap((first, last_day, stop) -> if(t >= first AND if(is_day, t < last_day, t >= last_day AND t < stop),
                                                      rows.cost, toDecimal128(0, 12)),
                        {starts:Array(DateTime('UTC'))}, {last_days:Array(DateTime('UTC'))}, {ends:Array(DateTime('UTC'))})) AS cost
FROM
(
    SELECT toDateTime(day, 'UTC') AS t, 1 AS is_day, app, environment, provider, model, team, feature, tenant,
           requests, unpriced_requests, priced_requests, cost
    FROM llm_cost_daily
    WHERE day >= toDate(arrayMin({starts:Array(DateTime('UTC'))}), 'UTC')
      AND day < toDate(arrayMax({last_days:Array(DateTime('UTC'))}), 'UTC')
    UNION ALL
    SELECT toDateTime(hour, 'UTC') AS t, 0 AS is_day, app, environment, provider, model, team, feature, tenant,
           requests, unpriced_requests, priced_requests, cost
    FROM llm_cost_hourly
    WHERE toStartOfDay(toDateTime(hour, 'UTC')) IN {last_days:Array(DateTime('UTC'))}
) AS rows
WHERE 1$conditions
