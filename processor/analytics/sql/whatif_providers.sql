-- Where the calls of one model went: the price of another model is looked up per provider,
-- server and service tier.
SELECT DISTINCT provider, server_address, service_tier
FROM v_llm_calls
WHERE (request_model = {from_model:String} OR response_model = {from_model:String})
    AND cache_kind = ''
    AND timestamp >= {start:DateTime64(6, 'UTC')} AND timestamp < {end:DateTime64(6, 'UTC')} {conditions}
