-- Spend per scope value and minute in [range_start, range_end), for rolling windows, which
-- slide a minute at a time. $dimension is chosen by the code from a fixed list.
SELECT
    $dimension AS scope_value,
    toUnixTimestamp(toStartOfMinute(timestamp)) AS minute,
    sum(ifNull(cost, toDecimal128(0, 12)) * sign) AS spend
FROM llm_spans
WHERE timestamp >= {range_start:DateTime('UTC')} AND timestamp < {range_end:DateTime('UTC')}
  AND scope_value IN {scope_values:Array(String)}
GROUP BY scope_value, minute
