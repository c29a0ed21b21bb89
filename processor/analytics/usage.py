"""How the tokens were used, for the reports' data quality and what-ifs: prompt caching left
unused, usage the providers did not report, and calls the budget guard refused."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .dimensions import filter_conditions
from .runner import Runner, as_moment, fetch
from .sql_files import with_filters
from .time_range import checked_range, range_parameters

# The shortest prompt the providers' prompt caches take (OpenAI: 1,024 tokens; Anthropic:
# 1,024 for most models, 2,048 for the Haiku ones).
MIN_CACHEABLE_PROMPT_TOKENS = 1024


@dataclass(frozen=True, kw_only=True)
class CacheOpportunity:
    """A model's priced calls, and those with a cacheable prompt that read nothing from the cache."""

    provider: str
    model: str
    calls: int
    input_tokens: int
    cache_read_tokens: int
    uncached_calls: int  # prompt of MIN_CACHEABLE_PROMPT_TOKENS or more, no cache read
    uncached_input_tokens: int  # their input billed at the input rate (cache writes excluded)


@dataclass(frozen=True, kw_only=True)
class UnreportedUsage:
    provider: str
    model: str
    calls: int  # calls whose token counts the provider did not report
    last_call: datetime


def cache_opportunity(run: Runner, start: datetime | date, end: datetime | date, filters: dict | None = None,
                      min_prompt_tokens: int = MIN_CACHEABLE_PROMPT_TOKENS) -> list[CacheOpportunity]:
    """Per provider and model in [start, end): priced calls, and those with a cacheable
    prompt that read nothing from the cache; most such tokens first."""
    rows = _rows(run, "cache_opportunity", start, end, filters, min_prompt_tokens=min_prompt_tokens)
    return [CacheOpportunity(provider=r["provider"], model=r["model"], calls=int(r["calls"]),
                             input_tokens=int(r["all_input_tokens"]), cache_read_tokens=int(r["read_tokens"]),
                             uncached_calls=int(r["uncached_calls"]),
                             uncached_input_tokens=int(r["uncached_input_tokens"]))
            for r in rows]


def unreported_usage(run: Runner, start: datetime | date, end: datetime | date,
                     filters: dict | None = None) -> list[UnreportedUsage]:
    """Per provider and model in [start, end): calls without provider-reported usage."""
    rows = _rows(run, "unreported_usage", start, end, filters)
    return [UnreportedUsage(provider=r["provider"], model=r["model"], calls=int(r["calls"]),
                            last_call=as_moment(r["last_call"])) for r in rows]


def refused_calls(run: Runner, start: datetime | date, end: datetime | date, filters: dict | None = None) -> int:
    """Calls in [start, end) that the budget guard refused before sending them."""
    return int(_rows(run, "refused_calls", start, end, filters)[0]["refused"])


def _rows(run: Runner, name: str, start, end, filters, **extra) -> list[dict]:
    start, end = checked_range(start, end)
    _, conditions, parameters = filter_conditions(filters)
    parameters.update(range_parameters(start, end), **extra)
    return fetch(run, with_filters(name, conditions), parameters)
