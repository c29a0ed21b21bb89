-- The app/model days in [start, end) on which a call may be a request outlier
-- (request_outliers.sql), read off the cost histogram (migration 030) alone: days whose
-- dearest call's bucket lies more than {multiplier} times above the bucket that holds the
-- p95 of the {baseline_days} days before (the bucket where the count of the sorted costs
-- passes position floor(0.95 n), as quantileExact takes it), with at least {min_samples}
-- priced calls in those days and some call costing {min_cost} or more. Each comparison
-- keeps a bucket of margin on either side, so no day with an outlier is left out; the days
-- found are judged exactly from their calls.
WITH
    toDate({start:DateTime64(6, 'UTC')}, 'UTC') AS first_day,
    toDate({end:DateTime64(6, 'UTC')} - toIntervalMicrosecond(1), 'UTC') AS last_day
SELECT app, model, judged_day AS day
FROM
(
    SELECT app, model, judged_day,
           -- The baseline days' buckets (shift 1 .. baseline_days), cheapest first.
           arraySort(groupArrayIf((bucket, calls), shift > 0)) AS baseline,
           sumIf(calls, shift > 0) AS samples,
           baseline[arrayFirstIndex(seen -> seen > toUInt64(0.95 * samples),
                                    arrayCumSum(arrayMap(entry -> entry.2, baseline)))].1 AS p95_bucket,
           maxIf(bucket, shift = 0) AS top_bucket
    FROM
    (
        -- Each day's counts, towards its own judgement (shift 0) and the baselines of the
        -- baseline_days days after it.
        SELECT app, model, day + shift AS judged_day, shift, bucket, sum(calls) AS calls
        FROM llm_cost_histogram_daily
        ARRAY JOIN range(0, {baseline_days:UInt16} + 1) AS shift
        WHERE day >= first_day - {baseline_days:UInt16} AND day <= last_day
        GROUP BY app, model, judged_day, shift, bucket
        HAVING calls > 0 AND judged_day >= first_day AND judged_day <= last_day
    )
    GROUP BY app, model, judged_day
    HAVING countIf(shift = 0) > 0
)
WHERE samples >= {min_samples:UInt32}
  AND p95_bucket > -32768
  AND exp2((top_bucket + 2) / 8) >= toFloat64({min_cost:Decimal(38, 12)})
  AND exp2((top_bucket + 2) / 8) > toFloat64({multiplier:Decimal(18, 6)}) * exp2((p95_bucket - 1) / 8)
ORDER BY app, model, day
