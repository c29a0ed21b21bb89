-- Spend per scope value in [range_start, range_end) from raw rows, for the scopes that no
-- rollup has (user, tags); with a {tenant}, of that tenant's calls only. $dimension is
-- chosen by the code from a fixed list. The bounds are DateTime64, like the column: compared
-- with a DateTime, ClickHouse 26.9 loses the first rows of a part just below the upper bound.
SELECT $dimension AS scope_value, sum(ifNull(cost, toDecimal128(0, 12)) * sign) AS spend
FROM llm_spans
WHERE timestamp >= {range_start:DateTime64(6, 'UTC')} AND timestamp < {range_end:DateTime64(6, 'UTC')}
  AND scope_value IN {scope_values:Array(String)}
  AND ({tenant:String} = '' OR tenant = {tenant:String})
GROUP BY scope_value
