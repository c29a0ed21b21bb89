"""Re-pricing stored calls: the price book and catalog in force at each call's own time,
applied again after a price-book fix or a catalog upgrade.

Only the rows whose price changes get a new version (see corrections/versions.py), so
the rollups take the difference and a second identical run finds nothing to do. A run
that changed rows is recorded in `repricing_log` with who ran it, when and why. A cost
the provider billed is left as it is.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ..analytics.runner import as_decimal, fetch, runner_for_client
from ..analytics.time_range import checked_range, range_parameters
from ..corrections.sql_files import load_sql
from ..corrections.versions import NewPrice, Runner, write_new_versions
from ..record import LlmCall
from .catalog import CATALOG_VERSION
from .pricer import Pricer, disagrees


@dataclass(frozen=True, slots=True)
class ModelChange:
    model: str
    rows: int
    cost_before: Decimal | None
    cost_after: Decimal | None


@dataclass(frozen=True)
class RepricingResult:
    rows_examined: int
    rows_repriced: int
    cost_before: Decimal | None  # of the rows examined; None when none had a cost
    cost_after: Decimal | None
    by_model: list[ModelChange] = field(default_factory=list)  # the models whose rows changed
    log_id: str = ""  # the repricing_log row, "" for a dry run or when nothing changed


def _total(amounts) -> Decimal | None:
    known = [amount for amount in amounts if amount is not None]
    return sum(known, Decimal(0)) if known else None


def _call(row: dict) -> LlmCall:
    return LlmCall(
        timestamp_ns=int(row["timestamp_ns"]), trace_id=row["trace_id"], span_id=row["span_id"],
        provider=row["provider"], server_address=row["server_address"], operation=row["operation"],
        request_model=row["request_model"], response_model=row["response_model"],
        service_tier=row["service_tier"], input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]), cache_read_tokens=int(row["cache_read_tokens"]),
        cache_write_tokens=int(row["cache_write_tokens"]), reasoning_tokens=int(row["reasoning_tokens"]),
        usage_reported=bool(row["usage_reported"]), usage_source=row["usage_source"], status=row["status"],
        reported_cost=as_decimal(row["reported_cost"]))


def _details(value) -> dict[str, Decimal]:
    return {name: as_decimal(amount) for name, amount in (value or {}).items()}


def reprice(run: Runner, pricer: Pricer, start: datetime, end: datetime, *, model: str = "",
            dry_run: bool = False, ran_by: str = "", reason: str = "") -> RepricingResult:
    """Re-price the current rows of calls in [start, end) (of `model`, if given)."""
    start, end = checked_range(start, end)
    window = range_parameters(start, end)
    rows = fetch(run, load_sql("repricing_candidates"), {**window, "model": model})
    changed: list[tuple[dict, NewPrice]] = []
    after_costs = []
    for row in rows:
        call = _call(row)
        pricer.price(call)
        old_cost = as_decimal(row["cost"])
        after_costs.append(call.cost)
        if (call.cost, call.cost_details, call.price_source, call.price_version, call.unpriced) == (
                old_cost, _details(row["cost_details"]), row["price_source"], row["price_version"],
                bool(row["unpriced"])):
            continue
        changed.append((row, NewPrice(
            trace_id=call.trace_id, span_id=call.span_id, row_version=int(row["row_version"]), cost=call.cost,
            cost_details=call.cost_details, price_source=call.price_source, price_version=call.price_version,
            unpriced=call.unpriced, reported_cost_disagrees=disagrees(call.reported_cost, call.cost))))

    by_model: dict[str, list] = {}
    for row, price in changed:
        by_model.setdefault(row["model"], []).append((as_decimal(row["cost"]), price.cost))
    result = RepricingResult(
        rows_examined=len(rows), rows_repriced=len(changed),
        cost_before=_total(as_decimal(row["cost"]) for row in rows), cost_after=_total(after_costs),
        by_model=[ModelChange(name, len(pairs), _total(old for old, _ in pairs), _total(new for _, new in pairs))
                  for name, pairs in sorted(by_model.items())])
    if dry_run or not changed:
        return result

    write_new_versions(run, [price for _, price in changed])
    log_id = uuid.uuid4().hex
    book = pricer.price_book
    run(load_sql("repricing_log_insert"), {
        **window, "id": log_id, "ran_by": ran_by, "reason": reason, "model": model,
        "price_book": book.digest if book is not None else "", "catalog_version": CATALOG_VERSION,
        "rows_examined": result.rows_examined, "rows_repriced": result.rows_repriced,
        "cost_before": "" if result.cost_before is None else format(result.cost_before, "f"),
        "cost_after": "" if result.cost_after is None else format(result.cost_after, "f"),
    })
    return RepricingResult(**{**result.__dict__, "log_id": log_id})


def _amount(amount: Decimal | None) -> str | None:
    return None if amount is None else format(amount, "f")


def result_document(result: RepricingResult) -> dict:
    """The result as JSON-safe values (amounts as exact text, None when unpriced)."""
    return {"rows_examined": result.rows_examined, "rows_repriced": result.rows_repriced,
            "cost_before": _amount(result.cost_before), "cost_after": _amount(result.cost_after),
            "log_id": result.log_id,
            "models": [{"model": change.model, "rows": change.rows, "cost_before": _amount(change.cost_before),
                        "cost_after": _amount(change.cost_after)} for change in result.by_model]}


def reprice_on_request(client, body: dict) -> dict:
    """What the running service does for `llmledger prices reprice` (POST /v1/reprice): the
    command sends its range, filters, who and why, and the price book's text."""
    from .price_book import PriceBook

    book = body.get("price_book")
    pricer = Pricer(PriceBook.from_text(book["text"], book["name"]) if book else None, warn_unpriced=False)
    result = reprice(runner_for_client(client), pricer, datetime.fromisoformat(body["start"]),
                     datetime.fromisoformat(body["end"]), model=body.get("model", ""),
                     dry_run=bool(body.get("dry_run")), ran_by=body.get("ran_by", ""), reason=body.get("reason", ""))
    return result_document(result)
