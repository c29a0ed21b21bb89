-- Messages (alerts, reports) of the given kinds whose retrying ends after {since}: the
-- ones that may still have deliveries to make, or that gave up recently. Should two claims
-- of one key ever both be stored, the first claimant's row is the message (as in
-- OutboxStore.claim).
SELECT
    dedup_key,
    argMin(kind, (claimed_at, claimant)) AS first_kind,
    argMin(budget_id, (claimed_at, claimant)) AS first_owner,
    argMin(message, (claimed_at, claimant)) AS first_message,
    argMin(channels, (claimed_at, claimant)) AS first_channels,
    argMin(expires_at, (claimed_at, claimant)) AS first_expires_at
FROM budget_alerts
WHERE message != '' AND expires_at > {since:DateTime64(3, 'UTC')} AND kind IN {kinds:Array(String)}
GROUP BY dedup_key
ORDER BY first_expires_at, dedup_key
