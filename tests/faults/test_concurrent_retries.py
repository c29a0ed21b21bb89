"""A client that timed out sends the same request again at once; spans in flight count as
seen. The same request four times at once is stored once, a span repeated in one request
once, and a retry after a refused append is stored (the refusal gave its spans back)."""
from __future__ import annotations

import threading
import time

import anyio
import grpc
import pytest
from llm_traffic import llm_request
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from otlp_spans import CHAT, post, request_of, span

from llmledger.processor.pipeline import Backpressure, Pipeline
from llmledger.processor.pricing import Pricer
from llmledger.processor.telemetry import ProcessorMetrics
from llmledger.processor.wal import WriteAheadLog

SPANS = 200


def test_the_same_request_four_times_at_once_is_stored_once(service):
    body = llm_request(7, spans=SPANS)
    start = threading.Barrier(4)
    answers = []

    def over_http():
        start.wait()
        answers.append(post(service, body)[0])

    def over_grpc():
        with grpc.insecure_channel(service.grpc_address) as channel:
            stub = TraceServiceStub(channel)
            start.wait()
            stub.Export(ExportTraceServiceRequest.FromString(body), timeout=60)
            answers.append(200)

    senders = [threading.Thread(target=target) for target in (over_http, over_http, over_grpc, over_grpc)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=60)
    assert answers == [200] * 4
    assert service.wait_for("SELECT count() FROM llm_spans", SPANS) == SPANS
    time.sleep(0.5)  # a second copy would have arrived by now
    assert service.query("SELECT count() AS n, uniqExact(span_id) AS spans FROM llm_spans")[0] == {
        "n": SPANS, "spans": SPANS}
    assert service.scalar("SELECT count() FROM otel_traces") == SPANS
    assert service.scalar("SELECT sum(requests) FROM llm_cost_hourly") == SPANS


def test_a_span_repeated_inside_one_request_is_stored_once(service):
    twice = span(1, "chat", CHAT)
    status, answer = post(service, request_of(twice, span(2, "other chat", CHAT), twice))
    assert status == 200 and answer.partial_success.rejected_spans == 0
    assert service.wait_for("SELECT count() FROM llm_spans", 2) == 2
    time.sleep(0.5)
    assert service.scalar("SELECT count() FROM otel_traces") == 2


@pytest.fixture
def full_log(tmp_path):
    """A log with room for one small record only, taken by a record nobody stores yet."""
    with WriteAheadLog(tmp_path / "wal", segment_bytes=40_000, max_bytes=40_000) as wal:
        wal.append(b"x" * 39_000)
        yield wal


def test_a_refused_append_gives_its_spans_back_and_its_twin_in_flight_is_refused_too(full_log):
    metrics = ProcessorMetrics()
    pipeline = Pipeline(pricer=Pricer(), log=full_log, metrics=metrics)
    request = ExportTraceServiceRequest.FromString(llm_request(1, spans=20))

    async def both_at_once():
        outcomes = {}

        async def send(name):
            try:
                outcomes[name] = await pipeline.submit(request)
            except Backpressure as refused:
                outcomes[name] = refused

        async with anyio.create_task_group() as group:
            group.start_soon(send, "first")
            group.start_soon(send, "twin")  # arrives while the first one's append is under way
        return outcomes

    outcomes = anyio.run(both_at_once)
    assert isinstance(outcomes["first"], Backpressure) and "log is full" in outcomes["first"].reason
    # The twin waited for the first one's append instead of answering 200 for spans nobody logged.
    assert isinstance(outcomes["twin"], Backpressure) and "concurrent request" in outcomes["twin"].reason

    full_log.commit(1)  # the store caught up: room again
    retried = anyio.run(pipeline.submit, request)
    assert retried.accepted_spans == 20  # the refusal released the spans: the retry is not "a duplicate"
    again = anyio.run(pipeline.submit, request)
    assert again.accepted_spans == 0  # ... and now they are taken
    assert full_log.lag_records == 1
    # The twin's 20 (in flight at the time) and the last request's 20.
    assert metrics.registry.get_sample_value("llmledger_spans_duplicate_total") == 40
