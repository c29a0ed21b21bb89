-- Rows older than $days days by $aged_by are dropped in the background. $table and $aged_by
-- come from the fixed list in storage/retention.py, $days is a whole number.
ALTER TABLE $table MODIFY TTL $aged_by + INTERVAL $days DAY
