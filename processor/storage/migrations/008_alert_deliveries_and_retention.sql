-- Alerts are delivered until they get through (or their window ends), also across restarts
-- and by whichever replica is up: the alert's claim carries what to send and to whom, and
-- every retry round is claimed like the alert itself.

-- The rendered message (JSON), the channels it goes to (JSON, as in `budgets.channels`) and
-- when retrying stops: the end of the alert's window. Rows from before this migration have
-- no message and are never retried.
ALTER TABLE budget_alerts
    ADD COLUMN IF NOT EXISTS message String DEFAULT '',
    ADD COLUMN IF NOT EXISTS channels String DEFAULT '[]',
    ADD COLUMN IF NOT EXISTS expires_at DateTime64(3, 'UTC') DEFAULT window_start;

-- `channel_id` tells apart two channels of one type and host (a hash of the channel's
-- configuration, which itself may hold a secret); `round` counts the retry rounds, each of
-- a few attempts; `final` now means "no attempt follows": delivered, or the last round.
ALTER TABLE notification_deliveries
    ADD COLUMN IF NOT EXISTS channel_id String DEFAULT '',
    ADD COLUMN IF NOT EXISTS round UInt32 DEFAULT 1,
    ADD COLUMN IF NOT EXISTS expires_at DateTime64(3, 'UTC') DEFAULT attempted_at;

-- A claim on one retry round of one alert to one channel. Every sender inserts with
-- insert_deduplication_token = alert key | channel id | round, so the store keeps the first
-- insert only, and whoever's row is there sends that round. Partitioned by the alert's
-- expiry, which all senders agree on: deduplication works within a partition.
CREATE TABLE IF NOT EXISTS notification_claims
(
    alert_key String,
    channel_id String,
    round UInt32,
    claimant String,
    claimed_at DateTime64(6, 'UTC'),
    expires_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(expires_at)
ORDER BY (alert_key, channel_id, round)
SETTINGS non_replicated_deduplication_window = 10000;

-- The retention (days, 0 = forever) last applied to each table's TTL, so that a start with
-- an unchanged config does not rewrite the tables' parts (see storage/retention.py).
CREATE TABLE IF NOT EXISTS retention_applied
(
    table_name String,
    days UInt32,
    applied_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY table_name;
