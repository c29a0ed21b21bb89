-- Spend spikes: an app/model's spend in one bucket ({bucket_seconds} long: an hour or a
-- UTC day) that lies above the Tukey fence Q3 + {fence_multiplier} x (Q3 - Q1) of its spend
-- in the {history_buckets} buckets before it, buckets without calls counting as 0.
-- Quartiles and the median are ClickHouse's quantilesExact (the value at position
-- floor(q n) of the sorted spends), exact on Decimals. A bucket is reported only with at
-- least {min_spend} of spend and {min_requests} calls, and only for an app/model that spent
-- something in at least {min_active_buckets} of the trailing buckets: tiny apps page
-- nobody, and new ones are reported as new instead.
-- Buckets overlapping [start, end) are looked at; spend after end is left out.
WITH
    toIntervalSecond({bucket_seconds:UInt32}) AS step,
    toDateTime(toStartOfInterval({start:DateTime64(6, 'UTC')}, step)) AS first_bucket,
    first_bucket - toIntervalSecond({bucket_seconds:UInt32} * {history_buckets:UInt32}) AS origin,
    series AS
    (
        -- Summed straight off the rollup's table (its view would group by every key first);
        -- spend is NULL where none of the calls is priced, as in the view.
        SELECT app, model, toStartOfInterval(hour, step) AS bucket,
               if(sum(llm_cost_hourly.priced_requests) > 0, sum(llm_cost_hourly.cost), NULL) AS spend,
               sum(llm_cost_hourly.requests) AS requests
        FROM llm_cost_hourly
        WHERE hour >= origin
          AND hour < {end:DateTime64(6, 'UTC')}
        GROUP BY app, model, bucket
    ),
    candidates AS
    (
        SELECT app, model, bucket, spend, requests
        FROM series
        WHERE bucket >= first_bucket
          AND spend >= {min_spend:Decimal(38, 12)}
          AND requests >= {min_requests:UInt32}
    ),
    -- Each app/model's spend per bucket as one dense array from `origin` (0 where nothing was
    -- spent), so that a bucket's history is a slice of it.
    histories AS
    (
        SELECT app, model,
               groupArrayInsertAt(spend, toUInt32(intDiv(toUInt32(bucket) - toUInt32(origin), {bucket_seconds:UInt32})))
                   AS spend_at
        FROM series
        WHERE (app, model) IN (SELECT app, model FROM candidates)
        GROUP BY app, model
    ),
    scored AS
    (
        SELECT
            candidates.app AS app,
            candidates.model AS model,
            candidates.bucket AS bucket,
            candidates.spend AS observed,
            candidates.requests AS requests,
            -- The candidate sits at 0-based position p >= history_buckets: the buckets before it
            -- are the 1-based elements p - history_buckets + 1 .. p.
            intDiv(toUInt32(candidates.bucket) - toUInt32(origin), {bucket_seconds:UInt32}) AS position,
            arraySlice(histories.spend_at, position - {history_buckets:UInt32} + 1, {history_buckets:UInt32}) AS trailing,
            arrayReduce('quantilesExact(0.25, 0.5, 0.75)', trailing) AS quartiles,
            arrayCount(spend -> spend > 0, trailing) AS active_buckets,
            toDecimal128(quartiles[3] + (quartiles[3] - quartiles[1]) * {fence_multiplier:Decimal(18, 6)}, 12) AS fence
        FROM candidates
        INNER JOIN histories ON candidates.app = histories.app AND candidates.model = histories.model
    ),
    flagged AS
    (
        SELECT app, model, bucket, observed, requests, quartiles[2] AS median, fence, active_buckets
        FROM scored
        WHERE active_buckets >= {min_active_buckets:UInt32} AND observed > fence
    ),
    -- The most expensive calls of each flagged bucket, as examples to look at.
    examples AS
    (
        SELECT app, model, toDateTime(toStartOfInterval(timestamp, step)) AS bucket,
               arrayMap(pair -> pair.2, groupArraySorted(10)((-ifNull(cost, toDecimal128(0, 12)), trace_id))) AS trace_ids
        FROM v_llm_calls
        WHERE timestamp >= (SELECT min(bucket) FROM flagged) AND timestamp < {end:DateTime64(6, 'UTC')}
          AND (app, model, toDateTime(toStartOfInterval(timestamp, step))) IN (SELECT app, model, bucket FROM flagged)
        GROUP BY app, model, bucket
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
    flagged.active_buckets AS active_buckets,
    examples.trace_ids AS trace_ids
FROM flagged
LEFT JOIN examples ON flagged.app = examples.app AND flagged.model = examples.model AND flagged.bucket = examples.bucket
ORDER BY score DESC, at
LIMIT {max_results:UInt32}
