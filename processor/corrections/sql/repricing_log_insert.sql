INSERT INTO repricing_log
SELECT
    {id:String}, now64(6), {ran_by:String}, {reason:String},
    {start:DateTime64(6, 'UTC')}, {end:DateTime64(6, 'UTC')}, {model:String},
    {price_book:String}, {catalog_version:String},
    {rows_examined:UInt64}, {rows_repriced:UInt64},
    if({cost_before:String} = '', NULL, toDecimal128({cost_before:String}, 12)),
    if({cost_after:String} = '', NULL, toDecimal128({cost_after:String}, 12))
