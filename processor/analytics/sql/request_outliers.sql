-- Per-request outliers: calls in [start, end) that cost more than {multiplier} times the
-- p95 cost of their app/model over the {baseline_days} whole UTC days before the call's day.
-- p95 is ClickHouse's quantileExact: the value at position floor(0.95 n) of the sorted costs.
-- Only the app/model days outlier_candidate_days.sql found ({apps}[i], {models}[i] on
-- {days}[i]) are judged: the calls of those apps/models alone are read.
WITH
    toStartOfDay({start:DateTime64(6, 'UTC')}) - toIntervalDay({baseline_days:UInt16}) AS baseline_start,
    -- Each day's priced costs of an app/model as one array, counted towards the baselines of
    -- the baseline_days days after it: arrays of a few hundred rows are repeated, not the
    -- calls themselves, and the calls are read once.
    baselines AS
    (
        SELECT app, model, call_day + shift AS day, quantileExactArray(0.95)(costs) AS p95,
               sum(length(costs)) AS samples
        FROM
        (
            SELECT app, model, toDate(timestamp, 'UTC') AS call_day, groupArray(assumeNotNull(cost)) AS costs
            FROM v_llm_calls
            WHERE timestamp >= baseline_start AND timestamp < {end:DateTime64(6, 'UTC')}
              AND cost IS NOT NULL
              AND app IN {apps:Array(String)} AND model IN {models:Array(String)}
            GROUP BY app, model, call_day
        )
        ARRAY JOIN range(1, {baseline_days:UInt16} + 1) AS shift
        WHERE day >= toDate({start:DateTime64(6, 'UTC')}, 'UTC') AND day < {end:DateTime64(6, 'UTC')}
        GROUP BY app, model, day
    )
SELECT
    toTimeZone(calls.timestamp, 'UTC') AS at,
    calls.trace_id AS trace_id,
    calls.app AS app,
    calls.model AS model,
    assumeNotNull(calls.cost) AS observed,
    baselines.p95 AS baseline,
    toDecimal128(baselines.p95 * {multiplier:Decimal(18, 6)}, 12) AS threshold,
    round(toFloat64(observed) / toFloat64(baselines.p95), 3) AS score,
    1 AS requests,
    baselines.samples AS baseline_samples
FROM
(
    SELECT timestamp, trace_id, app, model, cost, toDate(timestamp, 'UTC') AS day
    FROM v_llm_calls
    WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')}
      AND cost >= {min_cost:Decimal(38, 12)}
      AND (app, model, day) IN (SELECT candidate.1, candidate.2, candidate.3
                                FROM (SELECT arrayJoin(arrayZip({apps:Array(String)}, {models:Array(String)},
                                                                {days:Array(Date)})) AS candidate))
) AS calls
INNER JOIN baselines ON calls.app = baselines.app AND calls.model = baselines.model AND calls.day = baselines.day
WHERE baselines.samples >= {min_samples:UInt32}
  AND baselines.p95 > 0
  AND calls.cost > baselines.p95 * {multiplier:Decimal(18, 6)}
ORDER BY score DESC, at
LIMIT {max_results:UInt32}
