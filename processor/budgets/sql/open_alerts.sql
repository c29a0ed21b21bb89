-- Alerts that carry a message and whose retrying ends after {since}: the ones that may
-- still have deliveries to make, or that gave up recently. Should two claims of one key
-- ever both be stored, the first claimant's row is the alert (as in claim_alert).
SELECT
    dedup_key,
    argMin(kind, (claimed_at, claimant)) AS first_kind,
    argMin(budget_id, (claimed_at, claimant)) AS first_budget_id,
    argMin(message, (claimed_at, claimant)) AS first_message,
    argMin(channels, (claimed_at, claimant)) AS first_channels,
    argMin(expires_at, (claimed_at, claimant)) AS first_expires_at
FROM budget_alerts
WHERE message != '' AND expires_at > {since:DateTime64(3, 'UTC')}
GROUP BY dedup_key
ORDER BY first_expires_at, dedup_key
