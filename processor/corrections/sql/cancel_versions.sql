-- Cancel the given versions of calls (keys: trace_id/span_id/row_version), each once: a
-- version that already has its cancel row is left alone.
INSERT INTO llm_spans
SELECT * REPLACE (toInt8(-1) AS sign)
FROM llm_spans
WHERE llm_spans.sign = 1
  AND concat(trace_id, '/', span_id, '/', toString(row_version)) IN {keys:Array(String)}
  AND (trace_id, span_id, row_version) NOT IN (
      SELECT trace_id, span_id, row_version FROM llm_spans AS cancelled
      WHERE cancelled.sign = -1
        AND concat(cancelled.trace_id, '/', cancelled.span_id, '/', toString(cancelled.row_version))
            IN {keys:Array(String)})
