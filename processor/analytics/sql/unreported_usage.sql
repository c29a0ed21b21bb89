-- Calls in [start, end) whose token counts the provider did not report (absent, or
-- estimated by an instrumentation), per provider and model: their costs rest on counts
-- that are not the provider's own. Calls that got no answer (refused by the budget guard,
-- failed before using anything) had nothing to report. The filters go in at the marker.
SELECT
    provider,
    model,
    count() AS calls,
    toTimeZone(max(timestamp), 'UTC') AS last_call
FROM v_llm_calls
WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')}
  AND usage_source != 'provider'
  AND NOT (status IN ('Refused', 'Error') AND input_tokens + output_tokens = 0)$conditions
GROUP BY provider, model
ORDER BY calls DESC, provider, model
