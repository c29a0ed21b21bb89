"""`llmledger serve`: the receivers, the pipeline, the log drain, budgets and the HTTP API
in one process.

Everything runs on one asyncio loop (uvicorn for HTTP, grpc.aio for gRPC) except the
drain and the budget scheduler, which have threads of their own so that ClickHouse never
stalls the receivers.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import anyio
import uvicorn
from starlette.applications import Starlette

from .analytics import find_anomalies, runner_for_client
from .auth import Authenticator, KeyStore, keys_path
from .budgets import BudgetService, anomaly_alert, budget_routes, load_budget_file
from .budgets.scheduler import BudgetScheduler
from .config import Config
from .dead_letters import DeadLetters
from .drain import LogDrain
from . import batches
from .exporters.clickhouse import ClickHouseWriter
from .normalize.log_rows import log_rows
from .normalize.metric_rows import metric_rows
from .ops_api import OpsApi
from .pipeline import Pipeline
from .pricing import PriceBook, Pricer
from .receivers.admission import InflightBytes
from .receivers.otlp_grpc import build_grpc_server
from .receivers.otlp_http import otlp_http_routes
from .signal_pipeline import SignalPipeline
from .storage.store import Store, named_query
from .telemetry import ProcessorMetrics
from .twins.index import SpanFacts
from .twins.stored import stored_calls
from .wal import MemoryLog, WriteAheadLog
from .web import web_routes
from .workers import WorkerPool

log = logging.getLogger("llmledger")

SERVICE_FILE = "service.json"  # tells other commands where the running service listens


class Service:
    def __init__(self, config: Config):
        self.config = config
        self.metrics = ProcessorMetrics()
        storage = config.storage
        self.store = Store(data_dir=Path(storage.data_dir), url=storage.clickhouse_url, database=storage.database,
                           retention=config.retention, cluster=storage.cluster)
        data_dir = self.store.data_dir
        _make_private(data_dir)
        price_book = PriceBook.load(config.pricing.price_book) if config.pricing.price_book else None
        if config.budgets.file:
            load_budget_file(config.budgets.file)  # a broken file stops the start, with file:line

        if config.wal.enabled:
            self.log = WriteAheadLog(data_dir / "wal", segment_bytes=config.wal.segment_bytes,
                                     max_bytes=config.wal.max_bytes, fsync=config.wal.fsync)
        else:
            log.warning("wal.enabled is false: acknowledged spans are lost if the process dies")
            self.log = MemoryLog(max_bytes=config.wal.max_bytes)
        self.budgets = BudgetService(self.store.client, anomalies=self._anomaly_alerts)
        self.reports = self._report_scheduler(price_book)
        self.budget_scheduler = BudgetScheduler(self.budgets, budget_file=config.budgets.file,
                                                interval_s=config.budgets.evaluate_interval_s, metrics=self.metrics)
        self.pool: WorkerPool | None = None  # started once the receivers listen
        self._price_book = price_book
        self.pipeline = Pipeline(pricer=Pricer(price_book), log=self.log, metrics=self.metrics,
                                 observers=[self.budgets.observe], retractors=[self.budgets.retract])
        # Metrics and logs share the log and the drain with spans.
        self.signal_pipelines = {
            "metrics": SignalPipeline("metrics", metric_rows, log=self.log, metrics=self.metrics),
            "logs": SignalPipeline("logs", log_rows, log=self.log, metrics=self.metrics),
        }
        self._remember_logged_spans()
        self._store_remembered = False
        self.drain = LogDrain(
            log_=self.log, log_id=_log_id(data_dir), metrics=self.metrics, open_writer=self._open_writer,
            dead_letters=DeadLetters(data_dir / "dead-letter.jsonl"),
            batch_bytes=config.writer.batch_bytes, flush_interval_s=config.writer.flush_interval_ms / 1000,
        )
        self.authenticate = _authenticator(config)
        self.inflight = InflightBytes(config.http.max_inflight_bytes)
        self._admin_token = secrets.token_urlsafe(24)
        self.ops = OpsApi(store=self.store, log=self.log, drain=self.drain, metrics=self.metrics,
                          wal_max_bytes=config.wal.max_bytes, admin_token=self._admin_token,
                          authenticate=self.authenticate)
        self._analytics_runner = None
        self.http_url = ""
        self.grpc_address = ""

    # --- exactly once across restarts -------------------------------------------------------

    def _remember_logged_spans(self) -> None:
        """Span ids in the log's unwritten tail count as accepted (see Pipeline.remember)."""
        after = self.log.committed_seq
        while records := self.log.read(after, max_records=1000, max_bytes=64 << 20):
            for _, payload in records:
                batch = batches.decode(payload, logged_calls=True)
                self.pipeline.remember(batch.keys())
                self.pipeline.twins.remember_stored(SpanFacts.from_fields(fields) for fields in batch.logged_calls)
            after = records[-1][0]

    def _remember_store(self, client) -> None:
        """Spans and LLM calls stored in the last minutes: retried spans are not counted again,
        and late twins of stored calls are recognised (see twins/)."""
        if self._store_remembered:
            return
        rows = client.query(named_query("recent_span_ids")).result_rows
        self.pipeline.remember([batches.span_key(trace_id, span_id) for trace_id, span_id in rows])
        twins = self.pipeline.twins
        twins.remember_stored(stored_calls(client, twins.wait_ns, twins.max_entries))
        self._store_remembered = True

    def _remember_store_before_serving(self) -> None:
        try:
            self._remember_store(self.store.client())
        except Exception as exc:  # the store may be down: the writer tries again when it connects
            log.warning("could not read recent calls from the store yet: %s", exc)

    def _open_writer(self) -> ClickHouseWriter:
        client = self.store.client()
        self._remember_store(client)
        return ClickHouseWriter(client, cluster=self.store.cluster)

    def _anomaly_alerts(self):
        """Anomalies of the last day, as alerts; only asked for when anomaly channels are set."""
        if not self.budgets.anomaly_channels:
            return []
        end = datetime.now(timezone.utc)
        if self._analytics_runner is None:
            self._analytics_runner = runner_for_client(self.store.client())
        found = find_anomalies(self._analytics_runner, end - timedelta(days=1), end)
        return [anomaly_alert(anomaly) for anomaly in found]

    def _report_scheduler(self, price_book):
        """Scheduled reports, sent through the same notifier (and SMTP server) as the alerts."""
        from .reports import schedules_of, settings_of

        schedules = schedules_of(self.config)
        if not schedules:
            return None
        from .reports.scheduler import ReportScheduler

        return ReportScheduler(schedules, client_factory=self.store.client, notifier=self.budgets.notifier,
                               pricer=Pricer(price_book), settings=lambda: settings_of(self.config, self.http_url),
                               interval_s=self.config.reports.check_interval_s)

    # --- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        await anyio.to_thread.run_sync(self._remember_store_before_serving)
        self.drain.start()
        await anyio.to_thread.run_sync(self.budget_scheduler.load)
        self.budget_scheduler.start()
        http, http_task = await self._start_http()
        if self.reports is not None:  # after the HTTP start: the reports link to its pages
            self.reports.start()
        grpc_server = await self._start_grpc()
        if self.config.workers.processes:
            self.pool = WorkerPool(self.config.workers.processes, price_book=self.config.pricing.price_book)
            self.pipeline.pool = self.pool
        self._warn_if_open()
        self._write_service_file()
        listening = f"OTLP/HTTP on {self.http_url}"
        if self.grpc_address:
            listening += f", OTLP/gRPC on {self.grpc_address}"
        print(f"llmledger serving: {listening}; storing in {self.store.describe()}; "
              f"log at {self.store.data_dir / 'wal'}; cost pages at {self.http_url}/", flush=True)
        if self.log.recovery.replayable_records:
            print(f"replaying {self.log.recovery.replayable_records} acknowledged log records", flush=True)

        await stop.wait()
        print("llmledger stopping: finishing what is in the log", flush=True)
        http.should_exit = True
        if grpc_server is not None:
            await grpc_server.stop(grace=2)
        await http_task
        self.budget_scheduler.stop()
        if self.reports is not None:
            self.reports.stop()
        await anyio.to_thread.run_sync(self.drain.stop)
        if self.pool is not None:
            self.pool.close()
        self.log.close()
        (self.store.data_dir / SERVICE_FILE).unlink(missing_ok=True)

    async def _start_http(self):
        routes = (otlp_http_routes(self.pipeline, max_request_bytes=self.config.http.max_request_bytes,
                                   authenticate=self.authenticate, inflight=self.inflight,
                                   **self.signal_pipelines)
                  + self.ops.routes()
                  + budget_routes(self.budgets, authorize=self.ops.is_admin, authenticate=self.authenticate)
                  + web_routes(runner_factory=lambda: runner_for_client(self.store.client()),
                               authenticate=self.authenticate, budget_statuses=self.budgets.status,
                               pricer=Pricer(self._price_book, warn_unpriced=False)))
        http = uvicorn.Server(uvicorn.Config(Starlette(routes=routes), host=self.config.http.host,
                                             port=self.config.http.port, log_level="warning", lifespan="off",
                                             access_log=False))
        http.install_signal_handlers = lambda: None  # run() handles the signals
        listener = _bind(self.config.http.host, self.config.http.port, "OTLP/HTTP")
        task = asyncio.create_task(http.serve(sockets=[listener]))
        while not http.started:
            await asyncio.sleep(0.02)
        host, port = listener.getsockname()[:2]
        self.http_url = f"http://{host}:{port}"
        return http, task

    async def _start_grpc(self):
        if not self.config.grpc.enabled:
            return None
        if self.config.grpc.port:
            # Bound here first for the OS's reason when the port is taken (grpc says only that it failed).
            _bind(self.config.grpc.host, self.config.grpc.port, "OTLP/gRPC").close()
        try:
            server, port = build_grpc_server(self.pipeline, host=self.config.grpc.host, port=self.config.grpc.port,
                                             max_request_bytes=self.config.http.max_request_bytes,
                                             authenticate=self.authenticate, inflight=self.inflight,
                                             max_concurrent_requests=self.config.grpc.max_concurrent_requests,
                                             **self.signal_pipelines)
        except RuntimeError:  # grpc's way of saying the address cannot be bound
            raise OSError(f"cannot listen on {self.config.grpc.host}:{self.config.grpc.port} for OTLP/gRPC") from None
        await server.start()
        self.grpc_address = f"{self.config.grpc.host}:{port}"
        return server

    def _warn_if_open(self) -> None:
        hosts = {self.config.http.host} | ({self.config.grpc.host} if self.config.grpc.enabled else set())
        exposed = sorted(h for h in hosts if not _is_loopback(h))
        if exposed and self.authenticate is None:
            log.warning("listening on %s without authentication: anyone who can reach it can send spans. "
                        "Set auth.enabled: true and create keys with `llmledger keys create`.", ", ".join(exposed))

    def _write_service_file(self) -> None:
        path = self.store.data_dir / SERVICE_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "http": self.http_url, "token": self._admin_token}, f)


def _bind(host: str, port: int, what: str) -> socket.socket:
    """The listening socket, bound here so that a taken port is a clear error, not uvicorn's exit.
    IPPROTO_TCP explicitly: uvicorn sets TCP_NODELAY only on sockets that say so."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host.strip("[]"), port))
    except OSError as exc:
        listener.close()
        raise OSError(f"cannot listen on {host}:{port} for {what}: {exc.strerror}") from None
    return listener


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _authenticator(config: Config):
    if not config.auth.enabled:
        return None
    return Authenticator(KeyStore(keys_path(config)))


def _make_private(data_dir: Path) -> None:
    """The data directory and everything the process creates (the log, dead letters, the
    service file, chDB's own files) are for the service user alone: a umask covers files
    that other code creates, the chmod a directory an older version made world-readable."""
    os.umask(0o077)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if data_dir.stat().st_uid == os.getuid():
        data_dir.chmod(0o700)


def _log_id(data_dir: Path) -> str:
    """A random id for this data directory's log, part of every insert token, so a log that
    is deleted and started anew never reuses the tokens of the old one."""
    path = data_dir / "log-id"
    if not path.exists():
        path.write_text(uuid.uuid4().hex)
    return path.read_text().strip()
