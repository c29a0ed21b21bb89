-- Savings per value of one dimension, from the hourly savings rollup (view v_savings).
-- {key} is a whitelisted column name; {conditions} whitelisted filter conditions.
SELECT
    {key} AS key,
    sum(calls) AS calls,
    sum(unvalued_calls) AS unvalued_calls,
    sum(saved) AS saved
FROM v_savings
WHERE hour >= {start:DateTime64(6, 'UTC')} AND hour < {end:DateTime64(6, 'UTC')} {conditions}
GROUP BY key
HAVING calls != 0 OR saved != 0  -- a key whose calls corrections cancelled
ORDER BY saved DESC, key
