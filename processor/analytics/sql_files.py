"""The analytics queries that are fixed text live in `sql/*.sql`, to be read as SQL."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=None)
def load_sql(name: str) -> str:
    return resources.files(__package__).joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


def with_filters(name: str, conditions: list[str]) -> str:
    """The query `name` with filter conditions ANDed in at its `$conditions` marker.
    Conditions come from `dimensions.filter_conditions`: whitelisted columns, values as
    query parameters."""
    return load_sql(name).replace("$conditions", "".join(f"\n  AND {c}" for c in conditions))
