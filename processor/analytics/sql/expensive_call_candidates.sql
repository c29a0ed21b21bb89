-- The traces of the {candidates} costliest stored rows in [start, end) that are not cancel
-- rows: a top-N over llm_spans reading only the sort columns (v_llm_calls would read every
-- row's ids to look for cancellations). The caller asks for as many more rows as the range
-- has cancel rows, so that the costliest current calls are among them (see 020).
SELECT DISTINCT trace_id
FROM
(
    SELECT trace_id
    FROM llm_spans
    WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')} AND sign = 1$conditions
    ORDER BY cost DESC NULLS LAST, timestamp DESC, span_id
    LIMIT {candidates:UInt32}
)
