"""The test side's own arithmetic: what the views should say, from the generated calls."""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal

from llmledger.processor.query import run_query
from llmledger.processor.record import LlmCall

SPEND_FIELDS = ("cost", "requests", "unpriced_requests", "errors", "input_tokens", "output_tokens",
                "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "total_tokens")


def at(call: LlmCall) -> datetime:
    return datetime.fromtimestamp(call.timestamp_ns // 10**9, timezone.utc).replace(
        microsecond=call.timestamp_ns % 10**9 // 1000)


def within(calls, start: datetime, end: datetime) -> list[LlmCall]:
    return [c for c in calls if start <= at(c) < end]


def spend(calls) -> dict:
    """The Spend fields of a group of calls, added up here. Calls none of which is priced
    have no cost (None), not a cost of 0; no calls at all cost 0."""
    priced = [c.cost for c in calls if c.cost is not None]
    return {
        "cost": sum(priced, Decimal(0)) if priced or not calls else None,
        "requests": len(calls),
        "unpriced_requests": sum(1 for c in calls if c.unpriced),
        "errors": sum(1 for c in calls if c.status == "Error"),
        "input_tokens": sum(c.input_tokens for c in calls),
        "output_tokens": sum(c.output_tokens for c in calls),
        "cache_read_tokens": sum(c.cache_read_tokens for c in calls),
        "cache_write_tokens": sum(c.cache_write_tokens for c in calls),
        "reasoning_tokens": sum(c.reasoning_tokens for c in calls),
        "total_tokens": sum(c.input_tokens + c.output_tokens for c in calls),
    }


def grouped(calls, key) -> dict:
    """key(call) -> spend of the calls with that key."""
    groups = defaultdict(list)
    for call in calls:
        groups[key(call)].append(call)
    return {k: spend(v) for k, v in groups.items()}


def ranked(groups: dict) -> list:
    """Keys in the reports' order: most expensive first (unpriced last), then most requests, then by name."""
    def order(k):
        cost = groups[k]["cost"]
        return (cost is None, -(cost or 0), -groups[k]["requests"], k)
    return sorted(groups, key=order)


def spend_of(record) -> dict:
    return {name: getattr(record, name) for name in SPEND_FIELDS}


def json_runner(client):
    """A runner like the CLI's when it goes through the running service: values arrive
    JSON-safe (Decimals and times as text) after a trip through JSON."""

    def run(sql, parameters=None):
        parameters = json.loads(json.dumps(parameters))
        columns, rows = run_query(client, sql, parameters)
        return columns, json.loads(json.dumps(rows))

    return run
