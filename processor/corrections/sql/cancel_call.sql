-- Cancel the current version of one call: insert its copy with sign = -1 (the rollups'
-- views subtract it). Nothing to do when the call has no current version (already
-- cancelled, or never stored), so running this twice changes nothing. The WHERE names
-- the table's sign: the bare name would be the replaced one.
INSERT INTO llm_spans
SELECT * REPLACE (toInt8(-1) AS sign)
FROM llm_spans
WHERE trace_id = {trace_id:String} AND span_id = {span_id:String} AND llm_spans.sign = 1
  AND row_version NOT IN (
      SELECT row_version FROM llm_spans AS cancelled
      WHERE cancelled.trace_id = {trace_id:String} AND cancelled.span_id = {span_id:String}
        AND cancelled.sign = -1)
