"""The pipeline of the signals stored as they come: metrics and logs.

    receive → rows (normalize.metric_rows / normalize.log_rows) → log → 200

Nothing is priced: the rows are the Collector ClickHouse exporter's, and the log, the
drain and their guarantees are the ones spans have (a 200 means the rows are in the
write-ahead log; a replay is deduplicated by the drain's insert tokens). Records the
conversion rejects are reported as OTLP partial success.

Metric points and log records carry no ids to tell a client's retry from new data, so the
request itself is the id: one whose content was accepted within the last `RETRY_WINDOW_S`
(its answer lost, say) is answered as it was then and not stored again. Exporters stamp
every point and record with its time, so two different exports do not share content.
The memory lives in the process: a retry across a restart is stored again.
"""
from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Callable

import anyio

from .normalize.signal_rows import Converted
from .pipeline import Principal, SubmitResult, append_durably
from .telemetry import ProcessorMetrics
from .wal import MemoryLog, WriteAheadLog, encode_rows

Convert = Callable[..., Converted]  # (request, *, now_ns, principal) -> Converted

RETRY_WINDOW_S = 600.0
MAX_REMEMBERED = 100_000


class SignalPipeline:
    def __init__(self, signal: str, convert: Convert, *, log: WriteAheadLog | MemoryLog, metrics: ProcessorMetrics,
                 clock: Callable[[], float] = time.monotonic):
        self._signal = signal
        self._convert = convert
        self._log = log
        self._metrics = metrics
        self._clock = clock
        # request digest -> (when accepted, its answer), oldest first; and the requests being logged
        self._accepted: OrderedDict[bytes, tuple[float, SubmitResult]] = OrderedDict()
        self._pending: dict[bytes, anyio.Event] = {}

    async def submit(self, request, principal: Principal | None = None) -> SubmitResult:
        digest = _digest(request, principal)
        while True:
            answered = self._answered(digest)
            if answered is not None:
                self._metrics.requests_duplicate.labels(self._signal).inc()
                return answered
            pending = self._pending.get(digest)
            if pending is None:
                break
            await pending.wait()  # the same request, being logged: its outcome decides
        done = self._pending[digest] = anyio.Event()
        try:
            result = await self._store(request, principal)
            self._remember(digest, result)
            return result
        finally:
            del self._pending[digest]
            done.set()

    async def _store(self, request, principal: Principal | None) -> SubmitResult:
        converted = self._convert(request, now_ns=time.time_ns(), principal=principal)
        self._metrics.items_received.labels(self._signal).inc(converted.accepted + converted.rejected)
        if converted.rejected:
            self._metrics.items_rejected.labels(self._signal).inc(converted.rejected)
        if converted.tables:
            await append_durably(self._log, encode_rows(converted.tables), self._metrics)
        return SubmitResult(converted.accepted, converted.rejected, "; ".join(converted.errors[:5]))

    def _answered(self, digest: bytes) -> SubmitResult | None:
        oldest = self._clock() - RETRY_WINDOW_S
        while self._accepted:
            first = next(iter(self._accepted.values()))
            if first[0] >= oldest and len(self._accepted) <= MAX_REMEMBERED:
                break
            self._accepted.popitem(last=False)
        seen = self._accepted.get(digest)
        return None if seen is None else seen[1]

    def _remember(self, digest: bytes, result: SubmitResult) -> None:
        self._accepted[digest] = (self._clock(), result)


def _digest(request, principal: Principal | None) -> bytes:
    """The request's content (and who sent it: the same bytes from another key are its own data)."""
    data = request if isinstance(request, (bytes, bytearray)) else request.SerializeToString(deterministic=True)
    digest = hashlib.blake2b(bytes(data), digest_size=16)
    if principal is not None:
        digest.update(principal.key_id.encode())
    return digest.digest()
