-- Savings per value of one dimension, from the hourly savings rollup (summed straight off
-- its table: the view v_savings groups by every key first, which costs ten times as much).
-- {key} is a whitelisted column name; {conditions} whitelisted filter conditions.
SELECT
    {key} AS key,
    sum(llm_savings_hourly.calls) AS calls,
    sum(llm_savings_hourly.unvalued_calls) AS unvalued_calls,
    sum(llm_savings_hourly.saved) AS saved
FROM llm_savings_hourly
WHERE hour >= {start:DateTime64(6, 'UTC')} AND hour < {end:DateTime64(6, 'UTC')} {conditions}
GROUP BY key
HAVING calls != 0 OR saved != 0  -- a key whose calls corrections cancelled
ORDER BY saved DESC, key
