-- Which apps and models are new (see new_arrivals.sql) for a range that starts on a whole
-- hour, read off the hourly rollup: a group of it with calls left after corrections had a
-- current call then. Hours that begin before `end` are looked at: when the range ends inside
-- an hour that is a superset, and new_arrival_calls.sql reads only the range's calls.
WITH
    {start:DateTime64(6, 'UTC')} - toIntervalDay({baseline_days:UInt16}) AS baseline_start,
    (
        SELECT sum(llm_cost_hourly.requests) FROM llm_cost_hourly
        WHERE hour >= baseline_start AND hour < {start:DateTime64(6, 'UTC')}
    ) AS baseline_calls,
    earlier AS
    (
        SELECT app, model
        FROM llm_cost_hourly
        WHERE hour >= baseline_start AND hour < {start:DateTime64(6, 'UTC')}
        GROUP BY app, model
        HAVING sum(llm_cost_hourly.requests) != 0
    ),
    later AS
    (
        SELECT app, model
        FROM llm_cost_hourly
        WHERE hour >= {start:DateTime64(6, 'UTC')} AND hour < {end:DateTime64(6, 'UTC')}
        GROUP BY app, model
        HAVING sum(llm_cost_hourly.requests) != 0
    )
SELECT 'new_app' AS kind, app AS name
FROM later
WHERE baseline_calls > 0 AND app NOT IN (SELECT app FROM earlier)
GROUP BY app
UNION ALL
SELECT 'new_model' AS kind, model AS name
FROM later
WHERE baseline_calls > 0 AND model NOT IN (SELECT model FROM earlier)
GROUP BY model
