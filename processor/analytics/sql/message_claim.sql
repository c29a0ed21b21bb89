-- Who claimed a message of the outbox (an alert, a scheduled report) and when: the first
-- claimant, as the outbox decides it.
SELECT claimant, toTimeZone(claimed_at, 'UTC') AS claimed_at
FROM budget_alerts
WHERE dedup_key = {key:String}
ORDER BY claimed_at, claimant
LIMIT 1
