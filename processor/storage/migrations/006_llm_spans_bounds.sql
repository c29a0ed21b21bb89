-- The bounds every stored LLM call keeps, so that no sum of money or tokens can wrap:
-- Decimal(38, 12) holds 10^26, and a sum of costs of at most 10^6 USD each needs 10^20 calls
-- to reach it; UInt64 sums of counts of at most 3 x 10^8 need 6 x 10^10 such calls. The
-- service rejects spans beyond them before acknowledging (normalize/validation.py has the
-- same numbers and the argument); these constraints hold any other writer to them too.
ALTER TABLE llm_spans ADD CONSTRAINT IF NOT EXISTS cost_within_bounds
    CHECK cost IS NULL OR (cost >= 0 AND cost <= 1000000);

ALTER TABLE llm_spans ADD CONSTRAINT IF NOT EXISTS cost_details_within_bounds
    CHECK arrayAll(amount -> amount >= 0 AND amount <= 1000000, mapValues(cost_details));

ALTER TABLE llm_spans ADD CONSTRAINT IF NOT EXISTS tokens_within_bounds
    CHECK greatest(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens) <= 300000000;
