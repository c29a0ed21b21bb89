-- Per alert and channel: the last retry round claimed (and when), and what the attempts
-- so far came to.
SELECT
    rounds.alert_key,
    rounds.channel_id,
    rounds.last_round,
    rounds.last_claimed_at,
    attempts.delivered,
    attempts.attempts,
    attempts.last_attempt_at,
    attempts.last_error
FROM
(
    SELECT alert_key, channel_id, max(round) AS last_round, max(claimed_at) AS last_claimed_at
    FROM notification_claims
    WHERE alert_key IN {keys:Array(String)}
    GROUP BY alert_key, channel_id
) AS rounds
LEFT JOIN
(
    SELECT alert_key, channel_id, max(ok) AS delivered, count() AS attempts,
           max(attempted_at) AS last_attempt_at, argMax(error, attempted_at) AS last_error
    FROM notification_deliveries
    WHERE alert_key IN {keys:Array(String)}
    GROUP BY alert_key, channel_id
) AS attempts
ON rounds.alert_key = attempts.alert_key AND rounds.channel_id = attempts.channel_id
