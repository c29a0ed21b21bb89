-- How many cancel rows (corrections, migration 020) the calls in [start, end) have.
SELECT count() AS cancel_rows
FROM llm_spans
WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')} AND sign = -1$conditions
