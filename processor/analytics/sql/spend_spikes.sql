-- Spend spikes: an app/model's spend in one bucket (an hour or a UTC day) that lies above
-- the Tukey fence Q3 + fence multiplier x (Q3 - Q1) of its spend in the buckets before it,
-- buckets without calls counting as 0. Quartiles and the median are ClickHouse's
-- quantilesExact (the value at position floor(q n) of the sorted spends), exact on Decimals.
-- A bucket is reported only with at least its scale's minimum spend and calls, and only for
-- an app/model that spent something in enough of the trailing buckets: tiny apps page
-- nobody, and new ones are reported as new instead.
-- Every scale asked for is judged in one read of the rollup: scale i is {kinds}[i] with
-- buckets {bucket_seconds}[i] long, {history_buckets}[i] buckets of history, the fence
-- multiplier {fence_multipliers}[i], at least {min_spends}[i] spent and {min_requests}[i]
-- calls, and {min_active_buckets}[i] trailing buckets with spend; at most {max_results}
-- spikes each. Buckets overlapping [start, end) are looked at; spend after end is left out.
-- Example calls of the buckets found are spike_examples.sql's (a query of its own:
-- ClickHouse would work out this one's common table expressions again for every reference).
WITH
    arrayMap((kind, seconds, history, fence, min_spend, min_requests, min_active) ->
                 (kind, seconds, history, toDecimal128(fence, 6), toDecimal128(min_spend, 12), min_requests, min_active,
                  -- the scale's first bucket of history, in seconds since the epoch (UTC days
                  -- and hours both start on a multiple of their length)
                  intDiv(toUInt32(toUnixTimestamp({start:DateTime64(6, 'UTC')})), seconds) * seconds - seconds * history),
             {kinds:Array(String)}, {bucket_seconds:Array(UInt32)}, {history_buckets:Array(UInt32)},
             {fence_multipliers:Array(String)}, {min_spends:Array(String)}, {min_requests:Array(UInt32)},
             {min_active_buckets:Array(UInt32)}) AS scales,
    series AS
    (
        -- Off the app/model hourly rollup (migration 030); spend is NULL where none of the
        -- calls is priced, as in the views.
        SELECT scale, app, model,
               toUInt32(intDiv(toUInt32(hour) - scale.8, scale.2)) AS position,
               if(sum(rollup.priced_requests) > 0, sum(rollup.cost), NULL) AS spend,
               sum(rollup.requests) AS requests
        FROM llm_app_model_hourly AS rollup
        ARRAY JOIN scales AS scale
        WHERE hour >= toDateTime(arrayMin(arrayMap(s -> s.8, scales)))
          AND hour < {end:DateTime64(6, 'UTC')}
          AND toUInt32(hour) >= scale.8
        GROUP BY scale, app, model, position
    ),
    -- Per scale and app/model, in one pass over the series (a CTE is worked out again
    -- wherever it is named): its spend per bucket as one dense array from the scale's first
    -- bucket of history (0 where nothing was spent), so that a bucket's history is a slice
    -- of it, and the buckets that may be spikes.
    histories AS
    (
        SELECT scale, app, model,
               groupArrayInsertAt(spend, position) AS spend_at,
               groupArrayIf((position, spend, requests),
                            position >= scale.3 AND spend >= scale.5 AND requests >= scale.6) AS candidates
        FROM series
        GROUP BY scale, app, model
        HAVING notEmpty(candidates)
    ),
    scored AS
    (
        SELECT
            scale.1 AS kind,
            app,
            model,
            toDateTime(scale.8 + candidate.1 * scale.2, 'UTC') AS bucket,
            candidate.2 AS observed,
            candidate.3 AS requests,
            scale.3 AS history,
            -- The candidate sits at 0-based position p >= history: the buckets before it are
            -- the 1-based elements p - history + 1 .. p.
            arraySlice(spend_at, candidate.1 - history + 1, history) AS trailing,
            arrayReduce('quantilesExact(0.25, 0.5, 0.75)', trailing) AS quartiles,
            arrayCount(spend -> spend > 0, trailing) AS active_buckets,
            toDecimal128(quartiles[3] + (quartiles[3] - quartiles[1]) * scale.4, 12) AS fence,
            round(toFloat64(observed) / toFloat64(greatest(fence, scale.5)), 3) AS score
        FROM histories
        ARRAY JOIN candidates AS candidate
        WHERE active_buckets >= scale.7 AND observed > fence
    )
SELECT
    kind,
    bucket AS at,
    app,
    model,
    observed,
    quartiles[2] AS baseline,
    fence AS threshold,
    score,
    requests,
    history AS baseline_samples,
    active_buckets
FROM scored
ORDER BY kind, score DESC, at
LIMIT {max_results:UInt32} BY kind
