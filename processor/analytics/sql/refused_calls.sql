-- Calls in [start, end) that the budget guard refused before they were sent (the
-- instrumentation records them with the guard's error type). The filters go in at the marker.
SELECT count() AS refused
FROM v_llm_calls
WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')}
  AND splitByChar('.', toString(error_type))[-1] IN ('BudgetExceededError', 'BudgetServiceUnavailableError')$conditions
