-- Span ids stored in the last minutes. Spans stored just before a crash may not have been
-- acknowledged, so a client will send them again: the restarted service must know them.
SELECT TraceId, SpanId
FROM otel_traces
WHERE Timestamp >= now64(9) - INTERVAL 15 MINUTE
ORDER BY Timestamp DESC
LIMIT 200000
