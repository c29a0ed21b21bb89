-- Which apps and models are new (see new_arrivals.sql) for a range [start, end) that starts
-- on a whole hour, read off the app/model hourly rollup (migration 030) in one pass: a group
-- with calls left after corrections had a current call then. Hours that begin before `end`
-- are looked at: when the range ends inside an hour that is a superset, and
-- new_arrival_calls.sql reads only the range's calls. With no call at all in the
-- {baseline_days} days before start, nothing is new.
SELECT named.1 AS kind, named.2 AS name
FROM
(
    SELECT arrayJoin([('new_app', app), ('new_model', model)]) AS named, earlier, later, baseline_calls
    FROM
    (
        SELECT app, model, earlier, later, sum(earlier) OVER () AS baseline_calls
        FROM
        (
            SELECT app, model,
                   sumIf(requests, hour < {start:DateTime64(6, 'UTC')}) AS earlier,
                   sumIf(requests, hour >= {start:DateTime64(6, 'UTC')}) AS later
            FROM llm_app_model_hourly
            WHERE hour >= {start:DateTime64(6, 'UTC')} - toIntervalDay({baseline_days:UInt16})
              AND hour < {end:DateTime64(6, 'UTC')}
            GROUP BY app, model
        )
    )
)
GROUP BY kind, name
HAVING any(baseline_calls) > 0 AND sum(earlier) = 0 AND sum(later) > 0
ORDER BY kind, name
