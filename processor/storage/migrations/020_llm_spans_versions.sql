-- Corrections as rows, not as ALTER UPDATE. A stored call is corrected (a late twin with
-- fuller usage replaces it, or a re-pricing) by inserting a cancel row (a copy with
-- sign = -1 and the same row_version) and, where the call stays, its new version
-- (sign = 1, row_version + 1). The rollups' materialized views add up cost x sign and
-- count sign, so they absorb corrections like any other insert. A call's current row is
-- the one with sign = 1 whose (trace_id, span_id, row_version) has no cancel row: the
-- views of migration 022 read only those, and so should any query of llm_spans once
-- corrections exist.
ALTER TABLE llm_spans
    ADD COLUMN IF NOT EXISTS sign Int8 DEFAULT 1,
    ADD COLUMN IF NOT EXISTS row_version UInt32 DEFAULT 1,
    -- The provider's id of its answer: how two spans of one call are recognised.
    ADD COLUMN IF NOT EXISTS response_id String DEFAULT '' CODEC(ZSTD(1)),
    -- The instrumentation scope that emitted the span.
    ADD COLUMN IF NOT EXISTS instrumentation LowCardinality(String) DEFAULT '',
    -- provider | estimated | absent: only token counts the provider reported are priced.
    ADD COLUMN IF NOT EXISTS usage_source LowCardinality(String) DEFAULT if(usage_reported, 'provider', 'absent'),
    -- Another tool's estimate of the cost (OpenLIT, LiteLLM, pydantic-ai), beside ours.
    ADD COLUMN IF NOT EXISTS reported_cost Nullable(Decimal(38, 12)),
    ADD COLUMN IF NOT EXISTS reported_cost_source LowCardinality(String) DEFAULT '',
    -- 1 when that estimate and our cost differ beyond rounding.
    ADD COLUMN IF NOT EXISTS reported_cost_disagrees UInt8 DEFAULT 0;

-- Cancel rows are few: the set index lets the "has it been cancelled" lookup skip the rest.
ALTER TABLE llm_spans ADD INDEX IF NOT EXISTS idx_sign sign TYPE set(2) GRANULARITY 1;

ALTER TABLE llm_spans ADD INDEX IF NOT EXISTS idx_response_id response_id TYPE bloom_filter(0.01) GRANULARITY 1;
