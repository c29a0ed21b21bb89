-- The rollups add up corrections: every measure is weighted by the row's sign (see 020),
-- so counts can be negative in a part until it merges (hence Int64). Columns are named
-- with their table where an alias of the same name would shadow them. priced_requests
-- counts the calls that have a cost, so that a group of unpriced calls reads as NULL, not
-- 0; for rows stored before this migration it is requests - unpriced_requests.
DROP VIEW IF EXISTS llm_cost_hourly_mv;

DROP VIEW IF EXISTS llm_cost_daily_by_user_mv;

ALTER TABLE llm_cost_hourly
    MODIFY COLUMN requests Int64,
    MODIFY COLUMN errors Int64,
    MODIFY COLUMN unpriced_requests Int64,
    MODIFY COLUMN input_tokens Int64,
    MODIFY COLUMN output_tokens Int64,
    MODIFY COLUMN cache_read_tokens Int64,
    MODIFY COLUMN cache_write_tokens Int64,
    MODIFY COLUMN reasoning_tokens Int64;

ALTER TABLE llm_cost_hourly ADD COLUMN IF NOT EXISTS priced_requests Int64 DEFAULT requests - unpriced_requests;

ALTER TABLE llm_cost_daily_by_user
    MODIFY COLUMN requests Int64,
    MODIFY COLUMN input_tokens Int64,
    MODIFY COLUMN output_tokens Int64;

ALTER TABLE llm_cost_daily_by_user ADD COLUMN IF NOT EXISTS priced_requests Int64 DEFAULT requests;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_hourly_mv TO llm_cost_hourly AS
SELECT
    toStartOfHour(timestamp) AS hour,
    app, environment, provider, model, team, feature, tenant,
    sum(sign) AS requests,
    sumIf(sign, status = 'Error') AS errors,
    sumIf(sign, llm_spans.unpriced = 1) AS unpriced_requests,
    sumIf(sign, llm_spans.cost IS NOT NULL) AS priced_requests,
    sum(toInt64(llm_spans.input_tokens) * sign) AS input_tokens,
    sum(toInt64(llm_spans.output_tokens) * sign) AS output_tokens,
    sum(toInt64(llm_spans.cache_read_tokens) * sign) AS cache_read_tokens,
    sum(toInt64(llm_spans.cache_write_tokens) * sign) AS cache_write_tokens,
    sum(toInt64(llm_spans.reasoning_tokens) * sign) AS reasoning_tokens,
    sum(ifNull(llm_spans.cost, toDecimal128(0, 12)) * sign) AS cost
FROM llm_spans
GROUP BY hour, app, environment, provider, model, team, feature, tenant;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_cost_daily_by_user_mv TO llm_cost_daily_by_user AS
SELECT
    toDate(timestamp) AS day,
    app, environment, user_id, tenant,
    sum(sign) AS requests,
    sumIf(sign, llm_spans.cost IS NOT NULL) AS priced_requests,
    sum(toInt64(llm_spans.input_tokens) * sign) AS input_tokens,
    sum(toInt64(llm_spans.output_tokens) * sign) AS output_tokens,
    sum(ifNull(llm_spans.cost, toDecimal128(0, 12)) * sign) AS cost
FROM llm_spans
GROUP BY day, app, environment, user_id, tenant;
