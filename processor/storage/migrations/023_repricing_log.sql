-- Every re-pricing that changed stored rows (`llmledger prices reprice`): who ran it,
-- when, why, over which rows, with which prices, and what the totals were before and after.
CREATE TABLE IF NOT EXISTS repricing_log
(
    id String,
    ran_at DateTime64(6, 'UTC'),
    ran_by String,
    reason String,
    range_start DateTime64(9, 'UTC'),
    range_end DateTime64(9, 'UTC'),
    model_filter String,
    -- the price book's sha256 ('' without one) and the bundled catalog's version
    price_book String,
    catalog_version String,
    rows_examined UInt64,
    rows_repriced UInt64,
    cost_before Nullable(Decimal(38, 12)),
    cost_after Nullable(Decimal(38, 12))
)
ENGINE = MergeTree
ORDER BY ran_at;
