"""Worker processes for the CPU work on requests: reading, pricing and encoding spans
(`prepare.prepare_request`), which one Python process cannot do fast enough alone.

The service's own process keeps everything else: the receivers, the write-ahead log, the
memory of recent spans and calls, and the embedded store, which allows one process only.
A worker is handed a request's protobuf bytes and gives back the `Prepared` result; it holds
nothing between requests, so a worker that dies costs only the request it was on (answered
503, which the client retries) and is started again.

Workers are started with `spawn`: a fork of a process running chDB's threads is not safe,
and a spawned worker imports only what reading and pricing need. A worker exits when its
pipe closes, so one whose service was killed does not linger.
"""
from __future__ import annotations

import logging
import multiprocessing
import pickle
import queue
import threading
import time
import traceback

import anyio

log = logging.getLogger(__name__)


class WorkerLost(Exception):
    """The worker died on the request (killed, out of memory); another one is started."""


class WorkerPool:
    def __init__(self, processes: int, *, price_book: str | None = None):
        if processes < 1:
            raise ValueError(f"a worker pool needs at least one process, got {processes}")
        self._context = multiprocessing.get_context("spawn")
        self._price_book = price_book
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers = [self._start() for _ in range(processes)]
        for worker in self._workers:
            self._idle.put(worker)
        self._limiter = anyio.CapacityLimiter(processes)
        self._closed = threading.Event()

    @property
    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self._workers]

    async def prepare(self, data: bytes, principal=None):
        """`prepare_request` on the protobuf bytes of an ExportTraceServiceRequest, in a worker;
        `principal` is the pipeline's Principal of the sender, or None."""
        # One thread per busy worker, not one per waiting request.
        return await anyio.to_thread.run_sync(self._run, data, principal, limiter=self._limiter)

    def _run(self, data: bytes, principal):
        worker = self._idle.get()
        try:
            ok, result = worker.call(pickle.dumps((principal, time.time_ns())), data)
        except (EOFError, OSError) as exc:
            self._replace(worker)
            raise WorkerLost(f"a worker process ended while reading the request ({exc or 'no answer'}); retry") from None
        self._idle.put(worker)
        if not ok:
            raise RuntimeError(f"reading the request failed in a worker process:\n{result}")
        return result

    def _start(self) -> _Worker:
        here, there = self._context.Pipe()
        process = self._context.Process(target=serve, args=(there, self._price_book), name="llmledger-worker",
                                        daemon=True)
        process.start()
        there.close()  # the worker's end lives in the worker only: its death closes the pipe
        return _Worker(process, here)

    def _replace(self, worker: _Worker) -> None:
        worker.stop()
        if self._closed.is_set():
            return
        log.error("a worker process ended (exit code %s); starting another", worker.process.exitcode)
        fresh = self._start()
        self._workers[self._workers.index(worker)] = fresh
        self._idle.put(fresh)

    def close(self) -> None:
        self._closed.set()
        for worker in self._workers:
            worker.stop()


class _Worker:
    def __init__(self, process, connection):
        self.process = process
        self.connection = connection

    def call(self, header: bytes, data: bytes):
        self.connection.send_bytes(header)
        self.connection.send_bytes(data)
        return pickle.loads(self.connection.recv_bytes())

    def stop(self) -> None:
        self.connection.close()  # the worker sees the end of its pipe and exits
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def serve(connection, price_book: str | None) -> None:
    """A worker's loop: requests in, `Prepared` results out, until the pipe closes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from .prepare import prepare_request
    from .pricing import PriceBook, Pricer
    from .pricing.savings import SavingsPricer

    pricer = Pricer(PriceBook.load(price_book) if price_book else None)
    savings = SavingsPricer(pricer)
    while True:
        try:
            header = connection.recv_bytes()
            data = connection.recv_bytes()
        except (EOFError, OSError):
            return
        principal, now_ns = pickle.loads(header)
        try:
            request = ExportTraceServiceRequest.FromString(data)
            answer = (True, prepare_request(request, pricer=pricer, savings=savings, principal=principal,
                                            now_ns=now_ns))
        except Exception:  # noqa: BLE001 - a bug: the service reports it with the request
            answer = (False, traceback.format_exc())
        connection.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
