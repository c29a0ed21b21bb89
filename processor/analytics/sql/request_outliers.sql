-- Per-request outliers: calls in [start, end) that cost more than {multiplier} times the
-- p95 cost of their app/model over the {baseline_days} whole UTC days before the call's day.
-- p95 is ClickHouse's quantileExact: the value at position floor(0.95 n) of the sorted costs.
-- Only the app/model days outlier_candidate_days.sql found ({apps}[i], {models}[i] on
-- {days}[i]) are judged: the calls of those apps/models alone are read, once. Each day's
-- priced costs become one array, counted towards its own judgement (shift 0: the day's
-- calls of {min_cost} or more, kept whole) and the baselines of the {baseline_days} days
-- after it: arrays of a few hundred rows are repeated, not the calls themselves.
WITH
    toStartOfDay({start:DateTime64(6, 'UTC')}) - toIntervalDay({baseline_days:UInt16}) AS baseline_start,
    arrayZip({apps:Array(String)}, {models:Array(String)}, {days:Array(Date)}) AS judged_days
SELECT
    toTimeZone(dear.2, 'UTC') AS at,
    dear.3 AS trace_id,
    app,
    model,
    dear.1 AS observed,
    p95 AS baseline,
    toDecimal128(p95 * {multiplier:Decimal(18, 6)}, 12) AS threshold,
    round(toFloat64(observed) / toFloat64(p95), 3) AS score,
    1 AS requests,
    samples AS baseline_samples
FROM
(
    SELECT app, model, day + shift AS judged_day,
           quantileExactArrayIf(0.95)(costs, shift > 0) AS p95,
           sumIf(length(costs), shift > 0) AS samples,
           anyIf(dear_calls, shift = 0) AS judged_calls
    FROM
    (
        SELECT app, model, toDate(timestamp, 'UTC') AS day, groupArray(assumeNotNull(cost)) AS costs,
               groupArrayIf((assumeNotNull(cost), timestamp, trace_id),
                            timestamp >= {start:DateTime64(6, 'UTC')} AND cost >= {min_cost:Decimal(38, 12)}
                            AND has(judged_days, (app, model, day))) AS dear_calls
        FROM v_llm_calls
        WHERE timestamp >= baseline_start AND timestamp < {end:DateTime64(6, 'UTC')}
          AND cost IS NOT NULL
          AND app IN {apps:Array(String)} AND model IN {models:Array(String)}
        GROUP BY app, model, day
    )
    ARRAY JOIN range(0, {baseline_days:UInt16} + 1) AS shift
    WHERE has(judged_days, (app, model, judged_day))
    GROUP BY app, model, judged_day
)
ARRAY JOIN judged_calls AS dear
WHERE samples >= {min_samples:UInt32}
  AND p95 > 0
  AND observed > p95 * {multiplier:Decimal(18, 6)}
ORDER BY score DESC, at
LIMIT {max_results:UInt32}
