"""The pipeline of the signals stored as they come: metrics and logs.

    receive → rows (normalize.metric_rows / normalize.log_rows) → log → 200

Nothing is priced: the rows are the Collector ClickHouse exporter's, and the log, the
drain and their guarantees are the ones spans have (a 200 means the rows are in the
write-ahead log; a replay is deduplicated by the drain's insert tokens). Records the
conversion rejects are reported as OTLP partial success.
"""
from __future__ import annotations

import time
from typing import Callable

from .normalize.signal_rows import Converted
from .pipeline import Principal, RowsHandoff, SubmitResult, append_durably
from .telemetry import ProcessorMetrics
from .wal import MemoryLog, WriteAheadLog

Convert = Callable[..., Converted]  # (request, *, now_ns, principal) -> Converted


class SignalPipeline:
    def __init__(self, signal: str, convert: Convert, *, log: WriteAheadLog | MemoryLog, metrics: ProcessorMetrics,
                 handoff: RowsHandoff | None = None):
        self._signal = signal
        self._convert = convert
        self._log = log
        self._metrics = metrics
        self._handoff = handoff

    async def submit(self, request, principal: Principal | None = None) -> SubmitResult:
        converted = self._convert(request, now_ns=time.time_ns(), principal=principal)
        self._metrics.items_received.labels(self._signal).inc(converted.accepted + converted.rejected)
        if converted.rejected:
            self._metrics.items_rejected.labels(self._signal).inc(converted.rejected)
        if converted.tables:
            await append_durably(self._log, converted.tables, self._metrics, self._handoff)
        return SubmitResult(converted.accepted, converted.rejected, "; ".join(converted.errors[:5]))
