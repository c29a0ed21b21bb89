-- The alerts claimed for some budgets since {since}, with what became of their deliveries:
-- per channel, "sent" once any attempt succeeded, "failed" once the final
-- attempt failed, else "pending" (a retry is due). An alert key is claimed once; should
-- the dedup window ever have let two claims in, the first one counts (as in BudgetStore).
WITH
    alerts AS
    (
        SELECT dedup_key, kind, budget_id, window_start, threshold, spend, title, claimed_at
        FROM budget_alerts
        WHERE budget_id IN {budget_ids:Array(String)} AND window_start >= {since:DateTime64(3, 'UTC')}
        ORDER BY dedup_key, claimed_at, claimant
        LIMIT 1 BY dedup_key
    ),
    channels AS
    (
        SELECT alert_key, channel, channel_id, target, max(ok) AS took_it, max(final AND NOT ok) AS gave_up
        FROM notification_deliveries
        WHERE alert_key IN (SELECT dedup_key FROM alerts)
        GROUP BY alert_key, channel, channel_id, target
    ),
    outcomes AS
    (
        SELECT alert_key, countIf(took_it) AS sent_to, countIf(NOT took_it AND gave_up) AS failed_at,
               countIf(NOT took_it AND NOT gave_up) AS pending_at
        FROM channels
        GROUP BY alert_key
    )
SELECT
    alerts.dedup_key AS key, alerts.kind AS kind, alerts.budget_id AS budget_id,
    toTimeZone(alerts.window_start, 'UTC') AS window_start, alerts.threshold AS threshold, alerts.spend AS spend,
    alerts.title AS title, toTimeZone(alerts.claimed_at, 'UTC') AS claimed_at,
    ifNull(outcomes.sent_to, 0) AS sent, ifNull(outcomes.failed_at, 0) AS failed,
    ifNull(outcomes.pending_at, 0) AS pending
FROM alerts
LEFT JOIN outcomes ON outcomes.alert_key = alerts.dedup_key
ORDER BY claimed_at, key
SETTINGS join_use_nulls = 1
