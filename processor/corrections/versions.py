"""New versions of stored calls (a re-pricing): the next version with its new price,
then the cancel row of the version it follows. Both statements skip what is already
there, so a run cut short is finished by running it again."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from .sql_files import load_sql

Runner = Callable[..., "tuple[list[str], list[list]]"]


@dataclass(frozen=True, slots=True)
class NewPrice:
    """What the version after `row_version` of a call says it cost."""

    trace_id: str
    span_id: str
    row_version: int
    cost: Decimal | None
    cost_details: dict[str, Decimal]
    price_source: str
    price_version: str
    unpriced: bool
    reported_cost_disagrees: bool

    @property
    def key(self) -> str:
        return f"{self.trace_id}/{self.span_id}/{self.row_version}"


def _text(amount: Decimal) -> str:
    return format(amount, "f")


def write_new_versions(run: Runner, prices: list[NewPrice]) -> None:
    """Store each call's next version and cancel the one it replaces (the rollups follow)."""
    if not prices:
        return
    keys = [price.key for price in prices]
    run(load_sql("insert_repriced_versions"), {
        "keys": keys,
        "costs": ["" if price.cost is None else _text(price.cost) for price in prices],
        "detail_names": [list(price.cost_details) for price in prices],
        "detail_amounts": [[_text(amount) for amount in price.cost_details.values()] for price in prices],
        "sources": [price.price_source for price in prices],
        "versions": [price.price_version for price in prices],
        "unpriced": [int(price.unpriced) for price in prices],
        "disagrees": [int(price.reported_cost_disagrees) for price in prices],
    })
    run(load_sql("cancel_versions"), {"keys": keys})
