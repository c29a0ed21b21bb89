-- New apps and new models: seen in [start, end) but not in the {baseline_days} days before
-- start. When the store holds no call at all from those days there is nothing to compare
-- with (a fresh install), and nothing is reported.
WITH
    {start:DateTime64(6, 'UTC')} - toIntervalDay({baseline_days:UInt16}) AS baseline_start,
    (
        SELECT count() FROM v_llm_calls
        WHERE timestamp >= baseline_start AND timestamp < {start:DateTime64(6, 'UTC')}
    ) AS baseline_calls,
    window_calls AS
    (
        SELECT app, model, timestamp, cost, trace_id
        FROM v_llm_calls
        WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')}
    ),
    earlier_calls AS
    (
        SELECT app, model
        FROM v_llm_calls
        WHERE timestamp >= baseline_start AND timestamp < {start:DateTime64(6, 'UTC')}
    )
SELECT *
FROM
(
    SELECT
        'new_app' AS kind,
        app,
        '' AS model,
        toTimeZone(min(timestamp), 'UTC') AS at,
        ifNull(sum(cost), toDecimal128(0, 12)) AS observed,
        count() AS requests,
        arrayMap(pair -> pair.2, groupArraySorted(10)((timestamp, trace_id))) AS trace_ids
    FROM window_calls
    WHERE baseline_calls > 0 AND app NOT IN (SELECT DISTINCT app FROM earlier_calls)
    GROUP BY app
    HAVING requests >= {min_requests:UInt32}
    UNION ALL
    SELECT
        'new_model' AS kind,
        '' AS app,
        model,
        toTimeZone(min(timestamp), 'UTC') AS at,
        ifNull(sum(cost), toDecimal128(0, 12)) AS observed,
        count() AS requests,
        arrayMap(pair -> pair.2, groupArraySorted(10)((timestamp, trace_id))) AS trace_ids
    FROM window_calls
    WHERE baseline_calls > 0 AND model NOT IN (SELECT DISTINCT model FROM earlier_calls)
    GROUP BY model
    HAVING requests >= {min_requests:UInt32}
)
ORDER BY at, kind
LIMIT {max_results:UInt32} BY kind
