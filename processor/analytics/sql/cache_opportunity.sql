-- Prompt caching left unused in [start, end), per provider and model: calls whose prompt was
-- long enough for the providers' prompt caches ({min_prompt_tokens} tokens and up; OpenAI
-- caches such prompts by itself, Anthropic when asked to) yet read nothing from the cache,
-- beside all input. Calls the providers answered (a response-cache hit sent no prompt),
-- priced ones only: the rates that value a cached token are the model's.
-- The filters (whitelisted columns, query parameters) go in at the marker. Aliases differ
-- from the column names: in ClickHouse an alias would stand for its column in the sums.
SELECT
    provider,
    model,
    count() AS calls,
    sum(input_tokens) AS all_input_tokens,
    sum(cache_read_tokens) AS read_tokens,
    countIf(input_tokens >= {min_prompt_tokens:UInt32} AND cache_read_tokens = 0) AS uncached_calls,
    sumIf(input_tokens - cache_write_tokens,
          input_tokens >= {min_prompt_tokens:UInt32} AND cache_read_tokens = 0) AS uncached_input_tokens
FROM v_llm_calls
WHERE timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')}
  AND cost IS NOT NULL AND cache_kind = ''$conditions
GROUP BY provider, model
ORDER BY uncached_input_tokens DESC, provider, model
