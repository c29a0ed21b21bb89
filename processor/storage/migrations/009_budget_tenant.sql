-- A budget may count one tenant's calls only: `tenant` qualifies its scope (user u1 of
-- tenant acme). '' counts every tenant's calls, which is what every budget from before
-- this migration did.
ALTER TABLE budgets ADD COLUMN IF NOT EXISTS tenant String DEFAULT '' AFTER scope_value;

CREATE OR REPLACE VIEW budgets_current AS
SELECT
    id,
    scope,
    scope_value,
    tenant,
    window_kind,
    if(window_kind = 'rolling', concat(toString(intDiv(rolling_seconds, 60)), 'm'), timezone) AS period,
    limit_amount,
    thresholds,
    if(hard, 'hard', 'soft') AS mode,
    fallback_model,
    arrayStringConcat(arrayMap(c -> JSONExtractString(c, 'type'), JSONExtractArrayRaw(channels)), ',')
        AS channel_types,
    description,
    source,
    updated_at
FROM budgets FINAL;
