-- Every span of one trace, of any kind, from the collector-schema table. The trace's time
-- range in otel_traces_trace_id_ts narrows the scan to the days it lies in. Its bounds are
-- compared as DateTime64(9), the column's type: ClickHouse 26.9 compares a DateTime64
-- column with a DateTime wrongly at the edge of a part and drops the part's first rows.
WITH
    (SELECT toDateTime64(min(Start), 9) FROM otel_traces_trace_id_ts WHERE TraceId = {trace_id:String}) AS trace_start,
    (SELECT toDateTime64(max(End) + 1, 9) FROM otel_traces_trace_id_ts WHERE TraceId = {trace_id:String}) AS trace_end
SELECT
    toTimeZone(Timestamp, 'UTC') AS start, SpanId AS span_id, ParentSpanId AS parent_span_id, SpanName AS name,
    SpanKind AS kind, ServiceName AS service, Duration AS duration_ns, StatusCode AS status,
    StatusMessage AS status_message
FROM otel_traces
WHERE TraceId = {trace_id:String}
  AND Timestamp >= trace_start
  AND Timestamp < trace_end
ORDER BY Timestamp, SpanId
LIMIT 1 BY SpanId
