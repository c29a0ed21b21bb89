-- How many spans of every kind the trace has. The trace's time range, kept in
-- otel_traces_trace_id_ts, narrows the scan to the days (partitions) it lies in.
WITH
    (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId = {trace_id:String}) AS trace_start,
    (SELECT max(End) FROM otel_traces_trace_id_ts WHERE TraceId = {trace_id:String}) AS trace_end
SELECT count() AS span_count
FROM otel_traces
WHERE TraceId = {trace_id:String}
  AND Timestamp >= trace_start
  AND Timestamp < trace_end + 1
