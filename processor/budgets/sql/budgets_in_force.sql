-- The budgets in force, one row each (the newest version; deleted ones are hidden by FINAL).
SELECT id, scope, scope_value, tenant, window_kind, timezone, rolling_seconds, limit_amount, thresholds,
       hard, fallback_model, channels, description
FROM budgets FINAL
ORDER BY id
