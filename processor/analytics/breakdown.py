"""Cost, tokens and requests by one dimension (or two) over a time range, the top
spenders with their share, and the models left unpriced."""
from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal

from .dimensions import filter_conditions, parse_dimension
from .records import CostMatrix, CostRow, MatrixCell, ShareRow, Spend, TopSpenders, UnpricedModel
from .runner import Runner, as_moment, fetch
from .sources import BY_COST, MEASURES, add_costs, grouped_query, source_for, spend_fields
from .sql_files import with_filters
from .time_range import checked_range, range_parameters


def cost_by(run: Runner, dimension: str, start: datetime | date, end: datetime | date,
            filters: dict | None = None) -> list[CostRow]:
    """Spend per value of `dimension` (see dimensions.NAMES) in [start, end), most
    expensive first. Calls without a value for it (e.g. no team set) are grouped under ""."""
    return _breakdown(run, dimension, start, end, filters, limit=None)


def top_spenders(run: Runner, dimension: str, start: datetime | date, end: datetime | date,
                 limit: int = 10, filters: dict | None = None) -> list[CostRow]:
    """The `limit` values of `dimension` that cost the most in [start, end)."""
    _check_limit(limit)
    return _breakdown(run, dimension, start, end, filters, limit=limit)


def top_spenders_of(run: Runner, dimensions: list[str], start: datetime | date, end: datetime | date,
                    limit: int = 10, filters: dict | None = None) -> dict[str, list[CostRow]]:
    """top_spenders of each of several dimensions, in one query: each row of the range counts
    once under every dimension (an ARRAY JOIN), then the top `limit` of each."""
    _check_limit(limit)
    start, end = checked_range(start, end)
    by = [parse_dimension(name) for name in dimensions]
    if len(by) < 2 or any(d.tag is not None for d in by):  # a tag's name is a parameter per query
        return {d.name: top_spenders(run, d.name, start, end, limit, filters) for d in by}
    filtered_by, conditions, parameters = filter_conditions(filters)
    source = source_for([*by, *filtered_by], start, end)
    pairs = ", ".join(f"({index}, toString({d.column}))" for index, d in enumerate(by))
    sql = grouped_query(source, keys=[("dimension_key.1", "dimension_index"), ("dimension_key.2", "key")],
                        conditions=conditions, array_join=f"\nARRAY JOIN [{pairs}] AS dimension_key",
                        order_by=f"dimension_index, {BY_COST}, key", limited=True, limit_by="dimension_index")
    parameters.update(range_parameters(start, end), **source.parameters, limit=limit)
    found: dict[str, list[CostRow]] = {d.name: [] for d in by}
    for row in fetch(run, sql, parameters):
        name = by[int(row["dimension_index"])].name
        found[name].append(CostRow(dimension=name, key=row["key"], **spend_fields(row)))
    return found


def total_spend(run: Runner, start: datetime | date, end: datetime | date, filters: dict | None = None) -> Spend:
    """What all calls in [start, end) (that pass the filters) cost and used, from a rollup
    where one can answer (see sources.source_for)."""
    start, end = checked_range(start, end)
    filtered_by, conditions, parameters = filter_conditions(filters)
    source = source_for(filtered_by, start, end)
    parameters.update(range_parameters(start, end), **source.parameters)
    sql = grouped_query(source, keys=[], conditions=conditions)
    return Spend(**spend_fields(fetch(run, sql, parameters)[0]))


def top_with_share(run: Runner, dimension: str, start: datetime | date, end: datetime | date,
                   limit: int = 5, filters: dict | None = None) -> TopSpenders:
    """The `limit` biggest values of `dimension`, each with its share of the total cost,
    and what the others spent together."""
    _check_limit(limit)
    total = total_spend(run, start, end, filters)
    return with_share(_breakdown(run, dimension, start, end, filters, limit=limit), total, limit,
                      parse_dimension(dimension).name)


def with_share(rows: list[CostRow], total: Spend, limit: int, dimension: str) -> TopSpenders:
    """The first `limit` of breakdown rows (most expensive first) with their share of `total`,
    and what the rest of `total` spent: for a caller that has the rows (and the total, a
    Spend or a CostSummary) already."""
    total = total if type(total) is Spend else Spend(**_spend_of(total))
    top = rows[:limit]
    shares = tuple(ShareRow(**_spend_of(row), dimension=row.dimension, key=row.key,
                            share=None if not total.cost or row.cost is None else row.cost / total.cost)
                   for row in top)
    rest = {name: getattr(total, name) - sum(getattr(row, name) for row in top) for name in MEASURES if name != "cost"}
    top_cost = add_costs(row.cost for row in top)
    rest["cost"] = total.cost if top_cost is None else (total.cost or Decimal(0)) - top_cost
    others = Spend(**rest) if rest["requests"] > 0 else None
    return TopSpenders(dimension=dimension, rows=shares, total=total, others=others)


def cost_matrix(run: Runner, row_dimension: str, column_dimension: str, start: datetime | date,
                end: datetime | date, filters: dict | None = None) -> CostMatrix:
    """Spend of every (row value, column value) pair in [start, end), e.g. model by app;
    rows and columns come with their totals, most expensive first."""
    start, end = checked_range(start, end)
    by_row, by_column = parse_dimension(row_dimension), parse_dimension(column_dimension)
    if by_row.name == by_column.name:
        raise ValueError(f"a breakdown of {by_row.name} by itself: choose two different dimensions")
    filtered_by, conditions, parameters = filter_conditions(filters)
    row_key, row_parameters = by_row.expression("row_tag")
    column_key, column_parameters = by_column.expression("column_tag")
    source = source_for([by_row, by_column, *filtered_by], start, end)
    parameters.update(row_parameters, **column_parameters, **range_parameters(start, end), **source.parameters)
    sql = grouped_query(source, keys=[(row_key, "row_key"), (column_key, "column_key")], conditions=conditions,
                        order_by=f"{BY_COST}, row_key, column_key")
    cells = tuple(MatrixCell(row=row["row_key"], column=row["column_key"], **spend_fields(row))
                  for row in fetch(run, sql, parameters))
    return CostMatrix(row_dimension=by_row.name, column_dimension=by_column.name,
                      rows=_totals(by_row.name, cells, "row"), columns=_totals(by_column.name, cells, "column"),
                      cells=cells)


def unpriced_models(run: Runner, start: datetime | date, end: datetime | date,
                    filters: dict | None = None) -> list[UnpricedModel]:
    """The models with calls left unpriced in [start, end) (they need a price-book entry),
    most such calls first. Reads the hourly rollup, to the hour."""
    start, end = checked_range(start, end)
    filtered_by, conditions, parameters = filter_conditions(filters)
    if not all(d.in_hourly_rollup for d in filtered_by):
        raise ValueError("unpriced models can be filtered by the hourly rollup's dimensions only: "
                         "app, environment, provider, model, team, feature, tenant")
    parameters.update(range_parameters(start, end))
    return [UnpricedModel(provider=row["provider"], model=row["model"],
                          unpriced_requests=int(row["unpriced_calls"]), last_hour=as_moment(row["last_hour"]))
            for row in fetch(run, with_filters("unpriced_models", conditions), parameters)]


def _breakdown(run, dimension, start, end, filters, *, limit: int | None) -> list[CostRow]:
    start, end = checked_range(start, end)
    by = parse_dimension(dimension)
    filtered_by, conditions, parameters = filter_conditions(filters)
    key, key_parameters = by.expression("dimension_tag")
    source = source_for([by, *filtered_by], start, end)
    sql = grouped_query(source, keys=[(key, "key")], conditions=conditions, order_by=f"{BY_COST}, key",
                        limited=limit is not None)
    parameters.update(key_parameters, **range_parameters(start, end), **source.parameters)
    if limit is not None:
        parameters["limit"] = limit
    return [CostRow(dimension=by.name, key=row["key"], **spend_fields(row)) for row in fetch(run, sql, parameters)]


def _totals(dimension: str, cells: tuple[MatrixCell, ...], side: str) -> tuple[CostRow, ...]:
    sums: dict[str, dict] = {}
    for cell in cells:
        key = getattr(cell, side)
        into = sums.setdefault(key, {name: 0 for name in MEASURES} | {"cost": None})
        for name in MEASURES:
            if name == "cost":
                into[name] = add_costs((into[name], cell.cost))
            else:
                into[name] += getattr(cell, name)
    rows = [CostRow(dimension=dimension, key=key, **values) for key, values in sums.items()]
    rows.sort(key=lambda r: (r.cost is None, -(r.cost or 0), -r.requests, r.key))  # unpriced last, as SQL has it
    return tuple(rows)


def _spend_of(record) -> dict:
    return {item.name: getattr(record, item.name) for item in fields(Spend)}


def _check_limit(limit) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValueError(f"limit must be a positive whole number, got {limit!r}")

