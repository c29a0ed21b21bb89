-- How many spans of every kind the trace has. The trace's time range, kept in
-- otel_traces_trace_id_ts, narrows the scan to the days (partitions) it lies in. The
-- bounds are cast to Timestamp's own type: compared as a Nullable(DateTime) the upper
-- bound matched no row at all (and `costs trace` said 0 spans).
WITH
    (SELECT toDateTime64(min(Start), 9) FROM otel_traces_trace_id_ts WHERE TraceId = {trace_id:String}) AS trace_start,
    (SELECT toDateTime64(max(End) + 1, 9) FROM otel_traces_trace_id_ts WHERE TraceId = {trace_id:String}) AS trace_end
SELECT count() AS span_count
FROM otel_traces
WHERE TraceId = {trace_id:String}
  AND Timestamp >= trace_start
  AND Timestamp < trace_end
