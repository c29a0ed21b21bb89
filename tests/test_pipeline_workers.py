"""The pipeline with its CPU work in worker processes: the log gets the very records the service's
own process would write, what depends on other requests is still decided across them, and a
worker that dies costs only the request it was on."""
from __future__ import annotations

import os
import signal
import time
from decimal import Decimal

import anyio
import pytest
from llm_traffic import llm_request
from normalize.normalize_spans import SpanRecorder
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import SpanKind

from llmledger.processor import batches
from llmledger.processor.exporters.clickhouse import ClickHouseWriter
from llmledger.processor.normalize.conventions import DUPLICATE_OF_KEY, DUPLICATE_OF_TRACE_KEY
from llmledger.processor.pipeline import Backpressure, Pipeline, Principal
from llmledger.processor.pricing import Pricer
from llmledger.processor.telemetry import ProcessorMetrics
from llmledger.processor.wal import MemoryLog
from llmledger.processor.workers import WorkerPool

# LangChain's chat model span (OpenInference) around the openai SDK's span with the same usage.
WRAPPER = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
           "llm.token_count.prompt": 1200, "llm.token_count.completion": 300}
CALL = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 300}


@pytest.fixture(scope="module")
def pool():
    workers = WorkerPool(2)
    yield workers
    workers.close()


def _pipeline(pool=None) -> tuple[Pipeline, MemoryLog]:
    log = MemoryLog(max_bytes=1 << 30)
    return Pipeline(pricer=Pricer(), log=log, metrics=ProcessorMetrics(), pool=pool), log


def _records(log: MemoryLog) -> list[bytes]:
    return [payload for _, payload in log.read(0, max_records=1000, max_bytes=1 << 40)]


def _child_then_wrapper() -> list[ExportTraceServiceRequest]:
    """A wrapper exported after its child, in the next request, with a span that is no call."""
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("ChatOpenAI", kind=SpanKind.INTERNAL, attributes=WRAPPER):
        recorder.span("chat gpt-4o-mini", CALL)
        first = recorder.request()
    recorder.span("GET /health", {"http.route": "/health"}, kind=SpanKind.SERVER)
    return [first, recorder.request()]


def test_worker_processes_log_the_records_the_service_process_would(pool):
    requests = [ExportTraceServiceRequest.FromString(llm_request(n, spans=20)) for n in range(3)]
    requests += _child_then_wrapper()
    requests.append(requests[0])  # a client's retry: nothing of it is logged again
    logged = []
    for workers in (None, pool):
        pipeline, log = _pipeline(workers)
        for request in requests:
            anyio.run(pipeline.submit, request, Principal("key", app="billing"))
        logged.append(_records(log))
    assert len(logged[0]) == len(requests) - 1
    assert logged[0] == logged[1]


def test_a_wrapper_whose_child_came_earlier_is_stored_as_a_span_naming_the_call(pool, clickhouse):
    pipeline, log = _pipeline(pool)
    for request in _child_then_wrapper():
        result = anyio.run(pipeline.submit, request.SerializeToString())
        assert result.rejected_spans == 0
    records = [batches.decode(payload) for payload in _records(log)]
    ClickHouseWriter(clickhouse).write_sections(batches.join_sections(records), token="wrapper")
    rows = clickhouse.query("SELECT SpanName, SpanAttributes, TraceId, SpanId FROM otel_traces").result_rows
    spans = {name: attributes for name, attributes, _, _ in rows}
    ids = {name: (trace_id, span_id) for name, _, trace_id, span_id in rows}
    assert set(spans) == {"chat gpt-4o-mini", "ChatOpenAI", "GET /health"}
    # 1200 × 0.15 + 300 × 0.60 per 1M tokens = 0.00018 + 0.00018 USD
    assert Decimal(spans["chat gpt-4o-mini"]["llmledger.cost"]) == Decimal("0.00036")
    # The wrapper's row has no cost of its own but names the call's span.
    trace_id, span_id = ids["chat gpt-4o-mini"]
    assert spans["ChatOpenAI"] == {**{key: str(value) for key, value in WRAPPER.items()},
                                   DUPLICATE_OF_KEY: span_id, DUPLICATE_OF_TRACE_KEY: trace_id}
    assert spans["GET /health"] == {"http.route": "/health"}
    assert clickhouse.query("SELECT count(), sum(cost) FROM llm_spans").result_rows == [(1, Decimal("0.00036"))]


def test_a_worker_that_dies_costs_only_its_request():
    workers = WorkerPool(1)
    try:
        pipeline, log = _pipeline(workers)
        request = llm_request(1, spans=5)
        assert anyio.run(pipeline.submit, request).accepted_spans == 5
        (pid,) = workers.pids
        os.kill(pid, signal.SIGKILL)
        while not _ended(pid):
            time.sleep(0.01)
        with pytest.raises(Backpressure, match="worker process ended"):
            anyio.run(pipeline.submit, llm_request(2, spans=5))
        assert anyio.run(pipeline.submit, llm_request(2, spans=5)).accepted_spans == 5  # a new worker took it
        assert workers.pids != [pid]
        assert len(_records(log)) == 2
    finally:
        workers.close()


def _ended(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
