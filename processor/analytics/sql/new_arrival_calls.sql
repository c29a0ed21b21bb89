-- The calls of new apps {apps} and new models {models} in [start, end) (new_arrival_names.sql
-- found them): when each first came, what it cost, and example traces, as new_arrivals.sql.
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
    FROM v_llm_calls
    WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')}
      AND app IN {apps:Array(String)}
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
    FROM v_llm_calls
    WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')}
      AND model IN {models:Array(String)}
    GROUP BY model
    HAVING requests >= {min_requests:UInt32}
)
ORDER BY at, kind
LIMIT {max_results:UInt32} BY kind
