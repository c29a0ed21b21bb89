"""The seam between receivers and the rest of the processor.

Both OTLP receivers (HTTP and gRPC) decode a request into an
`ExportTraceServiceRequest` and hand it to `Pipeline.submit` (metrics and logs go
to their own pipelines, see `signal_pipeline`). When `submit` returns, the
accepted spans are durable; the receiver only translates the outcome into its
protocol's answer.

What the log records is the request's rows encoded as the store takes them (see
`batches`): the drain hands them to ClickHouse without building a Python value.
"""
from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass
from typing import Callable

import anyio
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from .batches import SPAN_KEY_BYTES, Batch, Section
from .batches import encode as encode_batch_record
from .corrections import Replacement
from .exporters.clickhouse import LLM_SPANS_LAYOUT, OTEL_TRACES_LAYOUT
from .normalize import WrapperFilter
from .normalize.request import MAX_ERRORS
from .prepare import CallFacts, Prepared, duplicate_attributes, prepare_request, with_attributes
from .pricing import Pricer
from .pricing.savings import SavingsPricer
from .telemetry import ProcessorMetrics
from .twins import TwinIndex
from .twins.index import SpanFacts
from .wal import LogFailed, LogFull, MemoryLog, WriteAheadLog
from .workers import WorkerLost, WorkerPool


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

    def add_all(self, keys: list[bytes]) -> None:
        """Count these pairs as durable (used at start-up)."""
        with self._lock:
            for key in keys:
                self._seen[hash(key)] = None
            self._bound()

    def claim(self, keys: list[bytes]) -> tuple[SpanClaim, list[bool]]:
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

    def unclaim(self, claim: SpanClaim, keys: list[bytes]) -> None:
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


class Pipeline:
    """receive → normalize → price → log. The log's writer does the rest (see `drain`).

    The CPU work on a request (`prepare.prepare_request`) runs in the worker processes of
    `pool`, or in the calling thread without one; what depends on other requests is decided
    here, in the one process that holds the memory of recent spans and calls: retried spans,
    wrappers, twins (twins/)."""

    def __init__(self, *, pricer: Pricer, log: WriteAheadLog | MemoryLog, metrics: ProcessorMetrics,
                 recent: RecentSpans | None = None, observers: list[Callable[[list[CallFacts]], None]] = (),
                 retractors: list[Callable[[list[CallFacts]], None]] = (),
                 pool: WorkerPool | None = None, twins: TwinIndex | None = None):
        self._pricer = pricer
        self._savings = SavingsPricer(pricer)
        self._log = log
        self._metrics = metrics
        self._recent = recent or RecentSpans()
        self.pool = pool
        # Told of every accepted call once it is durable: cost metrics, budget running totals.
        self._observers = [metrics.costs.observe, metrics.savings.observe, *observers]
        # Told, at the same moment, of the calls a better span of them replaced (twins/): the
        # budget running totals take back what they counted for those.
        self._retractors = list(retractors)
        self._wrappers = WrapperFilter()
        self.twins = twins or TwinIndex()

    def remember(self, keys: list[bytes]) -> None:
        """Count these spans (`batches.span_key`) as accepted: used at start-up, so that a client
        retrying across a restart a request the crashed process had logged is not counted twice."""
        self._recent.add_all(keys)

    async def submit(self, request, principal: Principal | None = None) -> SubmitResult:
        """Take an ExportTraceServiceRequest (or its protobuf bytes). Returns once the spans
        accepted are durable; raises Backpressure when they cannot be now."""
        prepared = await self._prepare(request, principal)
        undo: list = []
        accepted = self._decide(prepared, undo)
        claim = accepted.claim
        # Once claimed, see the append through even if the client goes away: its outcome decides
        # whether the claimed spans count as accepted.
        with anyio.CancelScope(shield=True):
            try:
                if accepted.spans:
                    await self._log_batch(accepted)
            except BaseException:
                self._recent.release(claim)
                self.twins.revert(undo)  # the client sends these spans again
                raise
            self._recent.settle(claim)
        # Spans this request shares with requests still being logged: answer once those are durable.
        for other in claim.waits_for:
            if not await other.wait():
                raise Backpressure("a concurrent request with the same spans could not be logged", retry_after=1)
        return SubmitResult(accepted.spans, accepted.rejected, "; ".join(accepted.errors[:5]))

    async def _prepare(self, request, principal: Principal | None) -> Prepared:
        if self.pool is None:
            if isinstance(request, (bytes, bytearray, memoryview)):
                request = ExportTraceServiceRequest.FromString(bytes(request))
            return prepare_request(request, pricer=self._pricer, savings=self._savings, principal=principal)
        if not isinstance(request, (bytes, bytearray, memoryview)):
            request = request.SerializeToString()
        try:
            return await self.pool.prepare(bytes(request), principal)
        except WorkerLost as exc:
            self._metrics.requests_refused.labels("worker_lost").inc()
            raise Backpressure(str(exc), retry_after=1) from None

    def _decide(self, prepared: Prepared, undo: list) -> _Accepted:
        """Claim the request's spans, tell wrappers and twins from calls, reject the calls that
        cannot be stored, and cut the rows that are not to be logged out of the encoded blocks
        (or mark them as another span's). `undo` collects what the twin index learnt."""
        metrics = self._metrics
        blob = prepared.span_keys
        keys = [blob[i:i + SPAN_KEY_BYTES] for i in range(0, len(blob), SPAN_KEY_BYTES)]
        metrics.spans_received.inc(len(keys) + prepared.rejected)
        claim, keep = self._recent.claim(keys)
        duplicates = keep.count(False)
        if duplicates:
            metrics.spans_duplicate.inc(duplicates)

        calls = prepared.calls
        children = self._wrappers.mark([call[:6] for call in calls]) if calls else []
        errors = list(prepared.errors)
        rejected_rows = []
        candidates: list[int] = []
        edited_rows: dict[int, tuple[int, dict[str, str]]] = {}  # row -> (call, the attributes it gets)
        for index, (row, child) in enumerate(zip(prepared.call_rows, children)):
            if not keep[row]:
                continue
            if child:  # a wrapper: its row names the call's span
                edited_rows[row] = (index, duplicate_attributes(calls[index][0], child))
                continue
            source = prepared.disagreements.get(index)
            if source is not None:
                metrics.reported_cost_disagreements.labels(source).inc()
            problem = prepared.problems.get(index)
            if problem:
                keep[row] = False
                rejected_rows.append(row)
                if len(errors) < MAX_ERRORS:
                    errors.append(problem)
                continue
            candidates.append(index)
        if rejected_rows:
            self._recent.unclaim(claim, [keys[row] for row in rejected_rows])
        rejected = prepared.rejected + len(rejected_rows)
        if rejected:
            metrics.spans_rejected.inc(rejected)

        # One span per LLM call (twins/): a twin's row names the span kept; a stored call that
        # a better span of it replaces is to be cancelled once this batch is written.
        facts = [SpanFacts.from_fields(prepared.twins[index]) for index in candidates]
        kept_calls, accepted_calls, replacements, retracted = [], [], [], []
        for index, fact, verdict in zip(candidates, facts, self.twins.sort_out(facts, undo)):
            kept = verdict.duplicate_of
            if kept is not None:
                edited_rows[prepared.call_rows[index]] = (index, duplicate_attributes(kept.trace_id, kept.span_id))
                metrics.twin_spans.inc()
                continue
            kept_calls.append(index)
            fact.counted = CallFacts.of(calls[index])
            accepted_calls.append(fact.counted)
            replaced = verdict.replaces
            if replaced is not None:
                replacements.append(Replacement(replaced.trace_id, replaced.span_id, fact.trace_id, fact.span_id))
                metrics.twin_replacements.inc()
                if replaced.counted is not None:
                    retracted.append(replaced.counted)

        for call in accepted_calls:
            if call.unpriced:
                metrics.count_unpriced(call.provider, call.model)
        spans = len(keys) - duplicates - len(rejected_rows)
        trace_data = _kept_rows(prepared.trace_data, prepared.trace_ends, keep, {
            row: lambda encoded, call=call, added=added: with_attributes(encoded, prepared.edits, call, added)
            for row, (call, added) in edited_rows.items()})
        llm_keep = [False] * len(calls)
        for index in kept_calls:
            llm_keep[index] = True
        llm_data = _kept_rows(prepared.llm_data, prepared.llm_ends, llm_keep, {})
        sections = [Section("otel_traces", OTEL_TRACES_LAYOUT.header, spans, trace_data)]
        if accepted_calls:
            sections.append(Section("llm_spans", LLM_SPANS_LAYOUT.header, len(accepted_calls), llm_data))
        span_keys = blob if spans == len(keys) else b"".join(key for key, kept in zip(keys, keep) if kept)
        batch = Batch(tuple(sections), span_keys, replacements=tuple(replacements),
                      logged_calls=tuple(prepared.twins[index] for index in kept_calls))
        return _Accepted(batch, spans, accepted_calls, retracted, claim, rejected, errors)

    async def _log_batch(self, accepted: _Accepted) -> None:
        await append_durably(self._log, encode_batch_record(accepted.batch), self._metrics)
        for observe in self._observers:
            observe(accepted.calls)
        if accepted.retracted:
            for retract in self._retractors:
                retract(accepted.retracted)


async def append_durably(log: WriteAheadLog | MemoryLog, payload: bytes, metrics: ProcessorMetrics) -> None:
    """Put one request's record in the log (fsync'd when it is on disk), or raise Backpressure.
    Once this returns, the request may be acknowledged."""
    try:
        await anyio.to_thread.run_sync(log.append, payload)
    except LogFull:
        metrics.requests_refused.labels("log_full").inc()
        raise Backpressure("the write-ahead log is full; the store is behind", retry_after=2) from None
    except LogFailed as exc:
        metrics.requests_refused.labels("log_failed").inc()
        raise Backpressure(f"the write-ahead log cannot write: {exc}", retry_after=3) from None


@dataclass(slots=True)
class _Accepted:
    """What of a request goes into the log, and what became of the rest."""

    batch: Batch
    spans: int
    calls: list[CallFacts]
    retracted: list[CallFacts]  # what was counted for the stored calls these replace
    claim: SpanClaim
    rejected: int
    errors: list[str]


def _kept_rows(data: bytes, ends, keep: list[bool], replace: dict[int, Callable[[bytes], bytes]]) -> bytes:
    """The rows of an encoded block that are kept, some of them rewritten."""
    if not replace and all(keep):
        return data
    parts = []
    start = 0
    for index, end in enumerate(ends):
        if keep[index]:
            rewrite = replace.get(index)
            parts.append(data[start:end] if rewrite is None else rewrite(data[start:end]))
        start = end
    return b"".join(parts)
