-- The next version of each given call (keys: trace_id/span_id/row_version of the version
-- it follows) with its new price; a next version already stored is not written again.
-- Amounts travel as exact decimal text and are parsed here; cost_details as parallel
-- arrays of component names and amounts.
INSERT INTO llm_spans
SELECT * EXCEPT (change) REPLACE (
    toUInt32(row_version + 1) AS row_version,
    if({costs:Array(String)}[change] = '', NULL, toDecimal128({costs:Array(String)}[change], 12)) AS cost,
    mapFromArrays({detail_names:Array(Array(String))}[change],
                  arrayMap(amount -> toDecimal128(amount, 12), {detail_amounts:Array(Array(String))}[change]))
        AS cost_details,
    {sources:Array(String)}[change] AS price_source,
    {versions:Array(String)}[change] AS price_version,
    toUInt8({unpriced:Array(UInt8)}[change]) AS unpriced,
    toUInt8({disagrees:Array(UInt8)}[change]) AS reported_cost_disagrees)
FROM (
    SELECT *, indexOf({keys:Array(String)}, concat(trace_id, '/', span_id, '/', toString(row_version))) AS change
    FROM llm_spans
    WHERE llm_spans.sign = 1
      AND concat(trace_id, '/', span_id, '/', toString(row_version)) IN {keys:Array(String)}
      AND (trace_id, span_id, row_version + 1) NOT IN (
          SELECT trace_id, span_id, row_version FROM llm_spans AS later
          WHERE concat(later.trace_id, '/', later.span_id, '/', toString(later.row_version - 1))
                IN {keys:Array(String)})
)
