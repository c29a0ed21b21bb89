"""The log drain in process, on a real log and the embedded store: it survives its own
failures, and a crash while it sets rejected records aside stores nothing twice and
nothing that was set aside."""
from __future__ import annotations

import json
import logging
import time

from llm_traffic import llm_request
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from llmledger.processor.dead_letters import DeadLetters, SplitBatch
from llmledger.processor.drain import LogDrain
from llmledger.processor.exporters.clickhouse import ClickHouseWriter, llm_span_row
from llmledger.processor.normalize import OTEL_TRACES_COLUMNS, normalize_request
from llmledger.processor.pricing import Pricer
from llmledger.processor.telemetry import ProcessorMetrics
from llmledger.processor.wal import WriteAheadLog, encode_rows

LOG_ID = "test-log"
SPANS = 5


def _logged(trace_rows: list[list], llm_rows: list[list]) -> bytes:
    return encode_rows({"otel_traces": trace_rows, "llm_spans": llm_rows})


def _record(number: int) -> tuple[list[list], list[list]]:
    """The priced rows of one request, as the pipeline logs them."""
    batch = normalize_request(ExportTraceServiceRequest.FromString(llm_request(number, spans=SPANS)),
                              now_ns=time.time_ns())
    pricer = Pricer()
    for call in batch.calls:
        pricer.price(call)
    return batch.trace_rows, [llm_span_row(call) for call in batch.calls]


def _drain(wal, clickhouse, tmp_path, metrics, open_writer=None):
    return LogDrain(log_=wal, log_id=LOG_ID, metrics=metrics, dead_letters=DeadLetters(tmp_path / "dead-letter.jsonl"),
                    open_writer=open_writer or (lambda: ClickHouseWriter(clickhouse, OTEL_TRACES_COLUMNS)),
                    flush_interval_s=0.01)


def _wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def _counts(clickhouse) -> tuple[int, int, int]:
    return clickhouse.query("SELECT (SELECT count() FROM otel_traces), (SELECT count() FROM llm_spans), "
                            "(SELECT sum(requests) FROM llm_cost_hourly)").result_rows[0]


def test_a_failure_inside_the_drain_is_logged_counted_and_the_drain_starts_over(tmp_path, clickhouse, caplog):
    opened = []

    def open_writer():  # fails once in a way the drain does not know, as a bug would
        opened.append(1)
        if len(opened) == 1:
            raise RuntimeError("unexpected failure while opening")
        return ClickHouseWriter(clickhouse, OTEL_TRACES_COLUMNS)

    metrics = ProcessorMetrics()
    with WriteAheadLog(tmp_path / "wal") as wal:
        for number in range(3):
            wal.append(_logged(*_record(number)))
        drain = _drain(wal, clickhouse, tmp_path, metrics, open_writer)
        with caplog.at_level(logging.ERROR, logger="llmledger.processor.drain"):
            drain.start()
            _wait_until(lambda: wal.committed_seq == 3, "the drain stored the log")
            drain.stop()
    assert _counts(clickhouse) == (3 * SPANS, 3 * SPANS, 3 * SPANS)
    assert metrics.registry.get_sample_value("llmledger_drain_crashes_total") == 1
    crash = [r for r in caplog.records if "starts over" in r.getMessage()]
    assert len(crash) == 1 and crash[0].exc_info is not None  # with its traceback
    assert not drain.stalled and drain.problem == ""


def test_a_crash_while_setting_records_aside_stores_nothing_twice_and_nothing_set_aside(tmp_path, clickhouse):
    # What a crash leaves behind, half way through writing a rejected batch record by record:
    # the log's batch 1-3 begun, the marker, record 1 stored with its own token, record 2 in
    # the dead-letter file, record 3 not written yet.
    records = [_record(number) for number in range(3)]
    dead_letters = DeadLetters(tmp_path / "dead-letter.jsonl")
    with WriteAheadLog(tmp_path / "wal") as wal:
        for rows in records:
            wal.append(_logged(*rows))
        wal.begin_batch(1, 3)
    dead_letters.begin_split(SplitBatch(LOG_ID, 1, 3, stored=frozenset()))
    ClickHouseWriter(clickhouse, OTEL_TRACES_COLUMNS).write(*records[0], token=f"{LOG_ID}-1-3-1")
    dead_letters.append(log_id=LOG_ID, seq=2, table="otel_traces", reason="rejected before the crash",
                        payload=_logged(*records[1]))
    with open(dead_letters.path, "a") as torn:  # and the crash tore a second entry half way
        torn.write('{"log_id": "test-log", "seq": 3, "tab')

    # The store would take record 2 now; it stays set aside all the same.
    with WriteAheadLog(tmp_path / "wal") as wal:
        drain = _drain(wal, clickhouse, tmp_path, ProcessorMetrics())
        drain.start()
        _wait_until(lambda: wal.committed_seq == 3, "the drain finished the batch")
        drain.stop()
    assert _counts(clickhouse) == (2 * SPANS, 2 * SPANS, 2 * SPANS)
    stored = {row[0] for row in clickhouse.query("SELECT DISTINCT trace_id FROM llm_spans").result_rows}
    assert stored == {records[0][1][0][1], records[2][1][0][1]}
    lines = dead_letters.path.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines if line.endswith("}")] == [2]
    assert dead_letters.split_of(LOG_ID, 1, 3) is None  # the marker is gone with the batch


def test_a_dead_letter_entry_that_fails_leaves_no_half_line(tmp_path, small_disk):
    disk = small_disk(tmp_path / "disk", size_mb=1)
    dead_letters = DeadLetters(disk.path / "dead-letter.jsonl")
    dead_letters.append(log_id=LOG_ID, seq=1, table="llm_spans", reason="first", payload=b"x")
    disk.fill()
    try:
        dead_letters.append(log_id=LOG_ID, seq=2, table="llm_spans", reason="second", payload=b"y" * 100_000)
    except OSError:
        pass
    else:
        raise AssertionError("a full disk took a 200 kB entry")
    disk.free()
    dead_letters.append(log_id=LOG_ID, seq=3, table="llm_spans", reason="third", payload=b"z")
    assert [json.loads(line)["seq"] for line in dead_letters.path.read_text().splitlines()] == [1, 3]
    assert dead_letters.seqs(LOG_ID, 1, 3) == {1, 3}
