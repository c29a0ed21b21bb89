"""The CPU work on one export request: read its spans, price its LLM calls, check what can be
stored, and encode the rows as the log and the store take them (RowBinary).

It runs in a worker process (see `workers`) or in the caller's thread, and depends on nothing
but the request: what depends on other requests — spans accepted before (a client's retry),
a wrapper span whose child came in an earlier request — the pipeline decides on what this
returns, and applies by cutting rows out of the encoded blocks or editing one attribute map.

Every LLM span is returned as a call, its row carrying its cost attributes as the last
entries of `SpanAttributes` (`edits` says where), so that a span the pipeline finds to be a
wrapper or a twin (another span of a call already counted) gets the attributes that say so
instead, without being encoded again.
"""
from __future__ import annotations

import operator
import time
from array import array
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from .exporters.clickhouse import LLM_SPANS_LAYOUT, OTEL_TRACES_LAYOUT, llm_span_row
from .exporters.rowbinary import string_map, string_map_parts, varint
from .normalize import OTEL_TRACES_COLUMNS, SPAN_ATTRIBUTES_INDEX, read_request
from .normalize.conventions import DUPLICATE_OF_KEY, DUPLICATE_OF_TRACE_KEY
from .normalize.validation import call_problem
from .pricing import Pricer
from .pricing.savings import SavingsPricer
from .twins.index import SpanFacts

COST_KEY = "llmledger.cost"
PRICE_SOURCE_KEY = "llmledger.price_source"
UNPRICED_KEY = "llmledger.unpriced"
# Ours alone: what a span claims under these names is replaced.
_OWN_KEYS = (COST_KEY, PRICE_SOURCE_KEY, UNPRICED_KEY, DUPLICATE_OF_KEY, DUPLICATE_OF_TRACE_KEY)

_HEAD = OTEL_TRACES_LAYOUT.columns_encoder(0, SPAN_ATTRIBUTES_INDEX)
_TAIL = OTEL_TRACES_LAYOUT.columns_encoder(SPAN_ATTRIBUTES_INDEX + 1, len(OTEL_TRACES_LAYOUT.names))
_ENCODE_TRACE_ROW = OTEL_TRACES_LAYOUT.encode_row
_ENCODE_LLM_ROW = LLM_SPANS_LAYOUT.encode_row
_SPAN_NAME = OTEL_TRACES_COLUMNS.index("SpanName")
_RESOURCE_ATTRIBUTES = OTEL_TRACES_COLUMNS.index("ResourceAttributes")
EDIT_FIELDS = 5  # numbers per call in Prepared.edits


class CallFacts(NamedTuple):
    """What the pipeline decides an LLM call on, and tells its observers (budgets, metrics)."""

    trace_id: str  # the first six: what WrapperFilter.mark reads
    span_id: str
    parent_span_id: str
    usage_reported: bool
    input_tokens: int
    output_tokens: int
    timestamp_ns: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    app: str
    environment: str
    provider: str
    request_model: str
    response_model: str
    team: str
    user_id: str
    feature: str
    tenant: str
    tags: dict
    price_source: str
    unpriced: bool
    saving_strategy: str
    saved_cost: Decimal | None
    prompt_cache_saved: Decimal
    cost: Decimal | None

    @property
    def model(self) -> str:
        return self.response_model or self.request_model

    @classmethod
    def of(cls, fields: tuple) -> CallFacts:
        """From a Prepared's call: its money given as text."""
        saved, prompt_saved, cost = fields[-3:]
        return cls._make((*fields[:-3], None if saved is None else Decimal(saved), Decimal(prompt_saved),
                          None if cost is None else Decimal(cost)))


# An LlmCall's values of the CallFacts fields, in their order, read at once.
_CALL_FIELDS = operator.attrgetter(*CallFacts._fields)


@dataclass(slots=True)
class Prepared:
    """One request, read, priced and encoded. Rows and calls are in the request's order."""

    span_keys: bytes = b""  # per row, batches.SPAN_KEY_BYTES: its raw trace id + span id
    trace_data: bytes = b""  # otel_traces rows, RowBinary
    trace_ends: array = field(default_factory=lambda: array("I"))  # where each row ends in trace_data
    call_rows: list[int] = field(default_factory=list)  # per call: its row
    calls: list[tuple] = field(default_factory=list)  # CallFacts fields, money as text (cheap to pickle)
    twins: list[tuple] = field(default_factory=list)  # per call, the fields of its twins.SpanFacts
    disagreements: dict[int, str] = field(default_factory=dict)  # call index -> the tool whose cost differs
    llm_data: bytes = b""  # llm_spans rows, one per call
    llm_ends: array = field(default_factory=lambda: array("I"))
    # Per call, EDIT_FIELDS numbers, within its row: where SpanAttributes starts, where its
    # entries start, where the cost attributes start, where the map ends, and how many
    # entries come before the cost attributes.
    edits: array = field(default_factory=lambda: array("I"))
    problems: dict[int, str] = field(default_factory=dict)  # call index -> why it cannot be stored (a message)
    rejected: int = 0  # spans rejected while reading
    errors: list[str] = field(default_factory=list)


def prepare_request(request, *, pricer: Pricer, savings: SavingsPricer, principal=None,
                    now_ns: int | None = None) -> Prepared:
    """Read, price and encode `request` (an ExportTraceServiceRequest). `principal` (the sender's
    key, or None) pins attribution and says whether the costs the spans report are trusted."""
    batch = read_request(request, now_ns=time.time_ns() if now_ns is None else now_ns)
    prepared = Prepared(span_keys=b"".join(batch.span_keys), call_rows=batch.call_rows,
                        rejected=batch.rejected, errors=batch.errors)
    rows = batch.trace_rows
    additions: dict[int, dict[str, str]] = {}
    llm_parts = []
    llm_ends = prepared.llm_ends
    llm_size = 0
    for index, (call, row_index) in enumerate(zip(batch.calls, batch.call_rows)):
        if principal is not None:
            call.app, call.tenant = principal.pin(call.app, call.tenant)
            if not principal.trust_reported_cost:
                call.billed_cost = None  # a sender's own figure must not replace the price
        pricer.price(call)
        savings.apply(call)  # before the checks: a cache hit's cost becomes 0
        if call.reported_cost_disagrees:
            prepared.disagreements[index] = call.reported_cost_source
        problem = call_problem(call)
        if problem:
            prepared.problems[index] = f"span {rows[row_index][_SPAN_NAME]!r} ({call.span_id}): {problem}"
        if call.cost is not None:
            additions[row_index] = {COST_KEY: str(call.cost), PRICE_SOURCE_KEY: call.price_source}
        elif call.unpriced:
            additions[row_index] = {UNPRICED_KEY: "true"}
        else:
            additions[row_index] = {}
        prepared.twins.append(SpanFacts.of(call).fields())
        fields = _CALL_FIELDS(call)
        prepared.calls.append((*fields[:-3], *map(_text, fields[-3:])))
        encoded = b"" if problem else _ENCODE_LLM_ROW(llm_span_row(call))  # rejected: its values may not fit
        llm_parts.append(encoded)
        llm_size += len(encoded)
        llm_ends.append(llm_size)
    prepared.llm_data = b"".join(llm_parts)

    trace_parts = []
    trace_ends = prepared.trace_ends
    size = 0
    # The rows of a resource share its attributes (one dict): encoded once. The dicts stay
    # referenced here, so that no id is reused while this runs.
    resources: dict[int, tuple[dict, bytes]] = {}
    for row_index, row in enumerate(rows):
        resource = row[_RESOURCE_ATTRIBUTES]
        seen = resources.get(id(resource))
        if seen is None:
            seen = resources[id(resource)] = (resource, string_map(resource))
        row[_RESOURCE_ATTRIBUTES] = seen[1]
        added = additions.get(row_index)
        if added is None:
            encoded = _ENCODE_TRACE_ROW(row)
        else:
            encoded, edit = _encode_call_row(row, added)
            prepared.edits.extend(edit)
        trace_parts.append(encoded)
        size += len(encoded)
        trace_ends.append(size)
    prepared.trace_data = b"".join(trace_parts)
    return prepared


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _encode_call_row(row: list, added: dict[str, str]) -> tuple[bytes, tuple[int, int, int, int, int]]:
    """A call's row with its cost attributes as the map's last entries, and where they are."""
    attributes = row[SPAN_ATTRIBUTES_INDEX]
    if not attributes.keys().isdisjoint(_OWN_KEYS):  # rare: most spans claim none of them
        for key in _OWN_KEYS:
            attributes.pop(key, None)
    head = _HEAD(row[:SPAN_ATTRIBUTES_INDEX])
    count = varint(len(attributes) + len(added))
    base = string_map_parts(attributes, [])
    extra = string_map_parts(added, [])
    tail = _TAIL(row[SPAN_ATTRIBUTES_INDEX + 1:])
    map_start = len(head)
    entries_start = map_start + len(count)
    additions_start = entries_start + len(base)
    map_end = additions_start + len(extra)
    return b"".join((head, count, base, extra, tail)), (map_start, entries_start, additions_start, map_end,
                                                         len(attributes))


def with_attributes(row: bytes, edits: array, call: int, added: dict[str, str]) -> bytes:
    """A call's encoded row with `added` in place of its cost attributes: as it reads for a
    span that turned out not to be a call of its own (a wrapper, a twin)."""
    at = call * EDIT_FIELDS
    map_start, entries_start, additions_start, map_end, base_count = edits[at:at + EDIT_FIELDS]
    return b"".join((row[:map_start], varint(base_count + len(added)), row[entries_start:additions_start],
                     string_map_parts(added, []), row[map_end:]))


def duplicate_attributes(kept_trace_id: str, kept_span_id: str) -> dict[str, str]:
    """What a span that is not a call of its own carries: the span of the call it belongs to."""
    return {DUPLICATE_OF_KEY: kept_span_id, DUPLICATE_OF_TRACE_KEY: kept_trace_id}
