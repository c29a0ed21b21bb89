-- Which apps and models are new (see new_arrivals.sql) for a range [window_start, window_end)
-- that starts on a whole hour, read off the cost rollups: the days before it (the marker:
-- rollup_hours_and_days.sql over [start, end) = [window_start - baseline days, window_start))
-- and the range's hours. A group with calls left after corrections had a current call then.
-- Hours that begin before window_end are looked at: when the range ends inside an hour that
-- is a superset, and new_arrival_calls.sql reads only the range's calls. With no call at all
-- before window_start, nothing is new.
SELECT named.1 AS kind, named.2 AS name
FROM
(
    SELECT arrayJoin([('new_app', app), ('new_model', model)]) AS named, earlier, later, baseline_calls
    FROM
    (
        SELECT app, model, sum(before) AS earlier, sum(since) AS later, sum(earlier) OVER () AS baseline_calls
        FROM
        (
            SELECT app, model, rollup.requests AS before, 0 AS since
            FROM $rollup
            UNION ALL
            SELECT app, model, 0 AS before, llm_cost_hourly.requests AS since
            FROM llm_cost_hourly
            WHERE hour >= {window_start:DateTime64(6, 'UTC')} AND hour < {window_end:DateTime64(6, 'UTC')}
        )
        GROUP BY app, model
    )
)
GROUP BY kind, name
HAVING any(baseline_calls) > 0 AND sum(earlier) = 0 AND sum(later) > 0
ORDER BY kind, name
