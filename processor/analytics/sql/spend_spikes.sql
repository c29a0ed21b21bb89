-- Spend spikes: an app/model's spend in one bucket ({bucket_seconds} long: an hour or a
-- UTC day) that lies above the Tukey fence Q3 + {fence_multiplier} x (Q3 - Q1) of its spend
-- in the {history_buckets} buckets before it, buckets without calls counting as 0.
-- Quartiles and the median are ClickHouse's quantilesExact (the value at position
-- floor(q n) of the sorted spends), exact on Decimals. A bucket is reported only with at
-- least {min_spend} of spend and {min_requests} calls, and only for an app/model that spent
-- something in at least {min_active_buckets} of the trailing buckets: tiny apps page
-- nobody, and new ones are reported as new instead.
-- Buckets overlapping [start, end) are looked at; spend after end is left out. Example calls
-- of the buckets found are spike_examples.sql's (a query of its own: ClickHouse would work out
-- this one's common table expressions again for every reference to them).
WITH
    toIntervalSecond({bucket_seconds:UInt32}) AS step,
    toDateTime(toStartOfInterval({start:DateTime64(6, 'UTC')}, step)) AS first_bucket,
    first_bucket - toIntervalSecond({bucket_seconds:UInt32} * {history_buckets:UInt32}) AS origin,
    series AS
    (
        -- Off the app/model hourly rollup (migration 030); spend is NULL where none of the
        -- calls is priced, as in the views.
        SELECT app, model, toStartOfInterval(hour, step) AS bucket,
               if(sum(rollup.priced_requests) > 0, sum(rollup.cost), NULL) AS spend,
               sum(rollup.requests) AS requests,
               toUInt32(intDiv(toUInt32(bucket) - toUInt32(origin), {bucket_seconds:UInt32})) AS position
        FROM llm_app_model_hourly AS rollup
        WHERE hour >= origin
          AND hour < {end:DateTime64(6, 'UTC')}
        GROUP BY app, model, bucket
    ),
    -- Per app/model, in one pass over the series (a CTE is worked out again wherever it is
    -- named): its spend per bucket as one dense array from `origin` (0 where nothing was
    -- spent), so that a bucket's history is a slice of it, and the buckets that may be spikes.
    histories AS
    (
        SELECT app, model,
               groupArrayInsertAt(spend, position) AS spend_at,
               groupArrayIf((position, spend, requests),
                            bucket >= first_bucket AND spend >= {min_spend:Decimal(38, 12)}
                            AND requests >= {min_requests:UInt32}) AS candidates
        FROM series
        GROUP BY app, model
        HAVING notEmpty(candidates)
    ),
    scored AS
    (
        SELECT
            app,
            model,
            origin + toIntervalSecond(candidate.1 * {bucket_seconds:UInt32}) AS bucket,
            candidate.2 AS observed,
            candidate.3 AS requests,
            -- The candidate sits at 0-based position p >= history_buckets: the buckets before it
            -- are the 1-based elements p - history_buckets + 1 .. p.
            arraySlice(spend_at, candidate.1 - {history_buckets:UInt32} + 1, {history_buckets:UInt32}) AS trailing,
            arrayReduce('quantilesExact(0.25, 0.5, 0.75)', trailing) AS quartiles,
            arrayCount(spend -> spend > 0, trailing) AS active_buckets,
            toDecimal128(quartiles[3] + (quartiles[3] - quartiles[1]) * {fence_multiplier:Decimal(18, 6)}, 12) AS fence
        FROM histories
        ARRAY JOIN candidates AS candidate
    ),
    flagged AS
    (
        SELECT app, model, bucket, observed, requests, quartiles[2] AS median, fence, active_buckets
        FROM scored
        WHERE active_buckets >= {min_active_buckets:UInt32} AND observed > fence
    )
SELECT
    toTimeZone(flagged.bucket, 'UTC') AS at,
    flagged.app AS app,
    flagged.model AS model,
    flagged.observed AS observed,
    flagged.median AS baseline,
    flagged.fence AS threshold,
    round(toFloat64(flagged.observed) / toFloat64(greatest(flagged.fence, {min_spend:Decimal(38, 12)})), 3) AS score,
    flagged.requests AS requests,
    {history_buckets:UInt32} AS baseline_samples,
    flagged.active_buckets AS active_buckets
FROM flagged
ORDER BY score DESC, at
LIMIT {max_results:UInt32}
