-- How many of one trace's LLM calls pass the filters (built by the code, placed at the marker).
SELECT count() AS calls
FROM v_llm_calls
WHERE trace_id = {trace_id:String}$conditions
