-- Calls in [start, end) whose token counts the provider did not report (absent, or
-- estimated by an instrumentation that was asked to), per provider and model: their costs
-- rest on counts that are not the provider's own. The filters go in at the marker.
SELECT
    provider,
    model,
    count() AS calls,
    toTimeZone(max(timestamp), 'UTC') AS last_call
FROM llm_spans
WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')}
  AND NOT usage_reported$conditions
GROUP BY provider, model
ORDER BY calls DESC, provider, model
