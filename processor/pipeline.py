"""The seam between receivers and the rest of the processor.

Both OTLP receivers (HTTP and gRPC) decode a request into an
`ExportTraceServiceRequest` and hand it to `Pipeline.submit` (metrics and logs go
to their own pipelines, see `signal_pipeline`). When `submit` returns, the
accepted spans are durable; the receiver only translates the outcome into its
protocol's answer.
"""
from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass
from typing import Callable

import anyio

from .corrections import Replacement
from .exporters.clickhouse import REPLACED_CALLS, llm_span_row
from .normalize import OTEL_TRACES_COLUMNS, WrapperFilter, normalize_request
from .normalize.conventions import DUPLICATE_OF_KEY, DUPLICATE_OF_TRACE_KEY
from .normalize.validation import call_problem
from .pricing import Pricer
from .pricing.savings import SavingsPricer
from .record import LlmCall
from .telemetry import ProcessorMetrics
from .twins import TwinIndex
from .wal import LogFailed, LogFull, MemoryLog, Rows, WriteAheadLog, encode_rows


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent a request, when authentication is on: a key may be bound to an app/tenant,
    and may be trusted to report what its calls cost."""

    key_id: str
    app: str = ""
    tenant: str = ""
    trust_reported_cost: bool = False

    @property
    def bound(self) -> bool:
        return bool(self.app or self.tenant)

    def pin(self, app: str, tenant: str) -> tuple[str, str]:
        """The app and tenant a call of this key counts under, whatever the call claims: a bound
        key's own (one bound only to an app claims no tenant); an unbound key's calls say."""
        if not self.bound:
            return app, tenant
        return self.app or app, self.tenant

    def owns(self, scope: str, value: str, tenant: str = "") -> bool:
        """Whether a budget on `scope`=`value`, counting only `tenant`'s calls ("" for every
        tenant's), lies inside this bound key's binding, so that its figures are the key's to
        see. A key bound to a tenant owns that tenant's budgets: scope tenant, or any scope
        qualified by it (a budget spanning tenants may hold other tenants' spend). A key bound
        only to an app owns the budget on its app that spans tenants (its calls have none)."""
        if self.tenant:
            return tenant == self.tenant or (not tenant and scope == "tenant" and value == self.tenant)
        return bool(self.app) and not tenant and scope == "app" and value == self.app


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What became of one export request. Rejected spans are reported as OTLP partial success.
    For metrics and logs the counts are of data points and log records."""

    accepted_spans: int
    rejected_spans: int = 0
    error_message: str = ""


class Backpressure(Exception):
    """The processor cannot take the request now (log full, store down, memory cap).

    Receivers answer 503 / UNAVAILABLE with `retry_after` seconds (1-3 s, so the
    OTel exporters retry instead of giving up)."""

    def __init__(self, reason: str, retry_after: int = 2):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RecentSpans:
    """A bounded memory of (trace id, span id) pairs accepted, or being accepted right now.

    The OTLP spec lets clients retry a request whose answer they lost; such a retry must not
    count the spans twice, also when it arrives while the first attempt is still being
    written to the log (a client that timed out under load sends it again at once). So a
    request *claims* its spans' keys before its log append: a request carrying a key that
    is claimed is not logged again but waits for the claim's append, and a failed append
    releases its keys for the client's retry. Batches replayed from the log are deduplicated
    by ClickHouse (insert tokens); this catches the clients' own retries."""

    def __init__(self, capacity: int = 500_000):
        self._capacity = capacity
        # The 64-bit hash of each pair, not the pair: a third of the memory (about 100 bytes an
        # entry); a false match needs a hash collision among the last `capacity` spans (~1e-8).
        # The value is the claim logging it, or None once it is durable. Insertion-ordered: the
        # oldest go first.
        self._seen: dict[int, SpanClaim | None] = {}
        self._lock = threading.Lock()

    def add_all(self, keys: list[tuple[str, str]]) -> None:
        """Count these pairs as durable (used at start-up)."""
        with self._lock:
            for key in keys:
                self._seen[hash(key)] = None
            self._bound()

    def claim(self, keys: list[tuple[str, str]]) -> tuple[SpanClaim, list[bool]]:
        """Claim the keys nobody has yet. Returns the claim and, per key, whether it is this
        claim's (False: seen before, claimed by a request in flight, or earlier in `keys`)."""
        claim = SpanClaim()
        fresh = []
        with self._lock:
            seen = self._seen
            for key in keys:
                hashed = hash(key)
                holder = seen.get(hashed, _ABSENT)
                if holder is _ABSENT:
                    seen[hashed] = claim
                    claim.hashes.append(hashed)
                    fresh.append(True)
                    continue
                fresh.append(False)
                if holder is not None and holder is not claim:
                    claim.waits_for.add(holder)
            self._bound()
        return claim, fresh

    def unclaim(self, claim: SpanClaim, keys: list[tuple[str, str]]) -> None:
        """Give back some of the claim's keys (spans rejected after all)."""
        with self._lock:
            for key in keys:
                hashed = hash(key)
                if self._seen.get(hashed) is claim:
                    del self._seen[hashed]

    def settle(self, claim: SpanClaim) -> None:
        """The claim's spans are durable."""
        with self._lock:
            seen = self._seen
            for hashed in claim.hashes:
                if seen.get(hashed) is claim:
                    seen[hashed] = None
        claim.finish(durable=True)

    def release(self, claim: SpanClaim) -> None:
        """The claim's append failed: its keys are free for the client's retry."""
        with self._lock:
            seen = self._seen
            for hashed in claim.hashes:
                if seen.get(hashed) is claim:
                    del seen[hashed]
        claim.finish(durable=False)

    def _bound(self) -> None:
        seen = self._seen
        overflow = len(seen) - self._capacity
        if overflow > 0:
            for key in list(itertools.islice(seen, overflow)):
                del seen[key]


_ABSENT = object()


class SpanClaim:
    """One request's claim on its spans' keys, from before its log append until the append's outcome."""

    __slots__ = ("hashes", "waits_for", "durable", "_done")

    def __init__(self) -> None:
        self.hashes: list[int] = []
        self.waits_for: set[SpanClaim] = set()  # claims in flight that hold some of this request's keys
        self.durable: bool | None = None
        self._done: asyncio.Event | None = None  # made by the first waiter: most claims have none

    def finish(self, *, durable: bool) -> None:
        self.durable = durable
        if self._done is not None:
            self._done.set()

    async def wait(self) -> bool:
        """Whether the claim's spans became durable (settle and release run on the event loop)."""
        if self.durable is None:
            if self._done is None:
                self._done = asyncio.Event()
            await self._done.wait()
        return self.durable


class RowsHandoff:
    """Rows handed from the receivers to the drain in memory, by log sequence number.

    The log is what makes a 200 durable and what a restart replays; in the normal run the
    drain takes the rows from here instead of decoding them back from the log. Bounded: past
    `max_bytes` of log payload, rows are not kept and the drain decodes them from the log."""

    def __init__(self, max_bytes: int = 16 << 20):
        self._max_bytes = max_bytes
        self._held_bytes = 0
        self._rows: dict[int, tuple[Rows, int]] = {}
        self._done_through = 0
        self._lock = threading.Lock()

    def put(self, seq: int, tables: Rows, size: int) -> None:
        with self._lock:
            if seq > self._done_through and self._held_bytes + size <= self._max_bytes:
                self._rows[seq] = (tables, size)
                self._held_bytes += size

    def take(self, seq: int) -> Rows | None:
        with self._lock:
            entry = self._rows.pop(seq, None)
            if entry is None:
                return None
            self._held_bytes -= entry[1]
            return entry[0]

    def done_through(self, seq: int) -> None:
        """Records up to `seq` are stored: forget them (one may arrive after the drain read it)."""
        with self._lock:
            self._done_through = max(self._done_through, seq)
            for stale in [s for s in self._rows if s <= seq]:
                self._held_bytes -= self._rows.pop(stale)[1]


async def append_durably(log: WriteAheadLog | MemoryLog, tables: Rows, metrics: ProcessorMetrics,
                         handoff: RowsHandoff | None) -> None:
    """Put one request's rows in the log (fsync'd when it is on disk), or raise Backpressure.
    Once this returns, the request may be acknowledged."""
    # An in-memory log keeps the rows as they are; the write-ahead log needs bytes.
    payload = encode_rows(tables) if log.persistent else tables
    try:
        seq = await anyio.to_thread.run_sync(log.append, payload)
    except LogFull:
        metrics.requests_refused.labels("log_full").inc()
        raise Backpressure("the write-ahead log is full; the store is behind", retry_after=2) from None
    except LogFailed as exc:
        metrics.requests_refused.labels("log_failed").inc()
        raise Backpressure(f"the write-ahead log cannot write: {exc}", retry_after=3) from None
    if handoff is not None and log.persistent:
        handoff.put(seq, tables, len(payload))


class Pipeline:
    """receive → normalize → price → log. The log's writer does the rest (see `drain`)."""

    def __init__(self, *, pricer: Pricer, log: WriteAheadLog | MemoryLog, metrics: ProcessorMetrics,
                 recent: RecentSpans | None = None, observers: list[Callable[[list[LlmCall]], None]] = (),
                 handoff: RowsHandoff | None = None, twins: TwinIndex | None = None):
        self._pricer = pricer
        self._savings = SavingsPricer(pricer)
        self._log = log
        self._metrics = metrics
        self._recent = recent or RecentSpans()
        self._handoff = handoff
        # Told of every accepted call once it is durable: cost metrics, budget running totals.
        self._observers = [metrics.costs.observe, metrics.savings.observe, *observers]
        self._wrappers = WrapperFilter()
        self.twins = twins or TwinIndex()
        self._trace_id = OTEL_TRACES_COLUMNS.index("TraceId")
        self._span_id = OTEL_TRACES_COLUMNS.index("SpanId")
        self._span_attributes = OTEL_TRACES_COLUMNS.index("SpanAttributes")

    def remember(self, keys: list[tuple[str, str]]) -> None:
        """Count these (trace id, span id) pairs as accepted: used at start-up, so that a client
        retrying across a restart a request the crashed process had logged is not counted twice."""
        self._recent.add_all(keys)

    async def submit(self, request, principal: Principal | None = None) -> SubmitResult:
        undo: list = []
        batch, claim, replacements = self.prepare(request, principal, undo)
        # Once claimed, see the append through even if the client goes away: its outcome decides
        # whether the claimed spans count as accepted.
        with anyio.CancelScope(shield=True):
            try:
                if batch.trace_rows:
                    await self._log_batch(batch, replacements)
            except BaseException:
                self._recent.release(claim)
                self.twins.revert(undo)  # the client sends these spans again
                raise
            self._recent.settle(claim)
        # Spans this request shares with requests still being logged: answer once those are durable.
        for other in claim.waits_for:
            if not await other.wait():
                raise Backpressure("a concurrent request with the same spans could not be logged", retry_after=1)
        return SubmitResult(len(batch.trace_rows), batch.rejected, "; ".join(batch.errors[:5]))

    async def _log_batch(self, batch, replacements: list[Replacement]) -> None:
        tables = {"otel_traces": batch.trace_rows}
        if batch.calls:
            tables["llm_spans"] = [llm_span_row(c) for c in batch.calls]
        if replacements:
            tables[REPLACED_CALLS] = replacements
        await append_durably(self._log, tables, self._metrics, self._handoff)
        for observe in self._observers:
            observe(batch.calls)

    def prepare(self, request, principal: Principal | None, undo: list | None = None):
        """Normalize, claim and price a request: drop spans already accepted (or being accepted),
        reject those that cannot be stored, keep one span per LLM call (twins). Pure CPU, no
        I/O. Returns the batch, the claim and the stored calls to replace; `undo` collects
        what the twin index learnt, to take back if the request is not logged."""
        metrics = self._metrics
        batch = normalize_request(request, now_ns=time.time_ns(), wrappers=self._wrappers)
        metrics.spans_received.inc(len(batch.trace_rows) + batch.rejected)

        claim, fresh = self._recent.claim(self._keys(batch.trace_rows))
        if not all(fresh):
            before = len(batch.trace_rows)
            batch.keep_rows(fresh)
            metrics.spans_duplicate.inc(before - len(batch.trace_rows))

        problems = {}
        for call, row_index in zip(batch.calls, batch.call_rows):
            if principal is not None:
                call.app, call.tenant = principal.pin(call.app, call.tenant)
                if not principal.trust_reported_cost:
                    call.billed_cost = None  # a sender's own figure must not replace the price
            self._pricer.price(call)
            self._savings.apply(call)  # before the checks: a cache hit's cost becomes 0
            if call.reported_cost_disagrees:
                metrics.reported_cost_disagreements.labels(call.reported_cost_source).inc()
            problem = call_problem(call)
            if problem:
                problems[row_index] = problem
        if problems:
            self._recent.unclaim(claim, self._keys([batch.trace_rows[i] for i in problems]))
            batch.reject_rows(problems)
        if batch.rejected:
            metrics.spans_rejected.inc(batch.rejected)

        replacements = self._sort_out_twins(batch, undo)
        for call, row_index in zip(batch.calls, batch.call_rows):
            attributes = batch.trace_rows[row_index][self._span_attributes]
            if call.cost is not None:
                attributes["llmledger.cost"] = str(call.cost)
                attributes["llmledger.price_source"] = call.price_source
            elif call.unpriced:
                attributes["llmledger.unpriced"] = "true"
                metrics.count_unpriced(call.provider, call.model)
        return batch, claim, replacements

    def _sort_out_twins(self, batch, undo: list | None) -> list[Replacement]:
        """Keep one span per LLM call (see twins/): a twin's trace row names the span kept,
        and a stored call replaced by a better span of it is to be cancelled."""
        verdicts = self.twins.sort_out(batch.calls, undo)
        kept_calls, kept_rows, replacements = [], [], []
        for call, row_index, verdict in zip(batch.calls, batch.call_rows, verdicts):
            kept = verdict.duplicate_of
            if kept is not None:
                attributes = batch.trace_rows[row_index][self._span_attributes]
                attributes[DUPLICATE_OF_KEY] = kept.span_id
                attributes[DUPLICATE_OF_TRACE_KEY] = kept.trace_id
                self._metrics.twin_spans.inc()
                continue
            kept_calls.append(call)
            kept_rows.append(row_index)
            replaced = verdict.replaces
            if replaced is not None:
                replacements.append(Replacement(replaced.trace_id, replaced.span_id, call.trace_id, call.span_id))
                self._metrics.twin_replacements.inc()
        batch.calls, batch.call_rows = kept_calls, kept_rows
        return replacements

    def _keys(self, trace_rows: list[list]) -> list[tuple[str, str]]:
        return [(row[self._trace_id], row[self._span_id]) for row in trace_rows]
