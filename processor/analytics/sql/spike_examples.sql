-- The most expensive calls of each spike (spend_spikes.sql found them): the app {apps}[i]
-- and model {models}[i] in the bucket ({bucket_seconds} long) starting at {buckets}[i].
SELECT
    app, model, toTimeZone(toDateTime(toStartOfInterval(timestamp, toIntervalSecond({bucket_seconds:UInt32}))), 'UTC')
        AS bucket,
    arrayMap(pair -> pair.2, groupArraySorted(10)((-ifNull(cost, toDecimal128(0, 12)), trace_id))) AS trace_ids
FROM v_llm_calls
WHERE timestamp >= {first:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')}
  AND app IN {apps:Array(String)}
  AND (app, model, toUInt32(toDateTime(toStartOfInterval(timestamp, toIntervalSecond({bucket_seconds:UInt32})))))
      IN (SELECT spike.1, spike.2, spike.3 FROM (SELECT arrayJoin(arrayZip({apps:Array(String)}, {models:Array(String)},
                                                                         {buckets:Array(UInt32)})) AS spike))
GROUP BY app, model, bucket
