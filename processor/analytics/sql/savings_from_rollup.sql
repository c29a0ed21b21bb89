-- Savings per value of one dimension from a savings rollup, summed straight off its table
-- (the view v_savings groups by every key first, which costs ten times as much): {rollup}
-- is llm_savings_hourly (by hour) or llm_savings_daily (by UTC day) and {time} its time
-- column. {key} is a whitelisted column name; {conditions} whitelisted filter conditions.
SELECT
    {key} AS key,
    sum({rollup}.calls) AS calls,
    sum({rollup}.unvalued_calls) AS unvalued_calls,
    sum({rollup}.saved) AS saved
FROM {rollup}
WHERE {time} >= {start:DateTime64(6, 'UTC')} AND {time} < {end:DateTime64(6, 'UTC')} {conditions}
GROUP BY key
HAVING calls != 0 OR saved != 0  -- a key whose calls corrections cancelled
ORDER BY saved DESC, key
