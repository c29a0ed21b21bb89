-- Mark a stored span as a duplicate of the span kept for its call, and drop the cost it
-- carried. otel_traces is not added up by any rollup, so a mutation is safe here.
ALTER TABLE otel_traces
UPDATE SpanAttributes = mapUpdate(
    mapFilter((key, value) -> key NOT IN ('llmledger.cost', 'llmledger.price_source', 'llmledger.unpriced'),
              SpanAttributes),
    map('llmledger.duplicate_of', {keeper_span_id:String}, 'llmledger.duplicate_of_trace', {keeper_trace_id:String}))
WHERE TraceId = {trace_id:String} AND SpanId = {span_id:String}
