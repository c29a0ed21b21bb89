"""`llmledger serve`: the receivers, the pipeline, the log drain and the HTTP API in one process.

Everything runs on one asyncio loop (uvicorn for HTTP, grpc.aio for gRPC) except the drain,
which has its own thread so that ClickHouse inserts never stall the receivers.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import secrets
import signal
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import anyio
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .analytics import find_anomalies, runner_for_client
from .auth import Authenticator, KeyStore, keys_path
from .budgets import BudgetService, anomaly_alert, budget_routes, load_budget_file
from .config import Config
from .drain import LogDrain
from .exporters.clickhouse import ClickHouseWriter
from .normalize import OTEL_TRACES_COLUMNS
from .pipeline import Pipeline, RowsHandoff, decode_batch
from .pricing import PriceBook, Pricer
from .query import run_query
from .receivers.admission import InflightBytes
from .receivers.otlp_grpc import build_grpc_server
from .receivers.otlp_http import otlp_http_routes
from .storage.client import connect, embedded_path
from .storage.migrate import migrate
from .telemetry import ProcessorMetrics
from .wal import WriteAheadLog

log = logging.getLogger("llmledger")

SERVICE_FILE = "service.json"  # tells other commands where the running service listens
_TRACE_ID = OTEL_TRACES_COLUMNS.index("TraceId")
_SPAN_ID = OTEL_TRACES_COLUMNS.index("SpanId")


class Store:
    """Opens ClickHouse and applies migrations once; hands out one client per user thread."""

    def __init__(self, config: Config):
        self._config = config
        self._lock = threading.Lock()
        self._migrated = False

    def describe(self) -> str:
        url = self._config.storage.clickhouse_url
        return f"ClickHouse at {_redact(url)}" if url else f"embedded ClickHouse at {embedded_path(self.data_dir)}"

    @property
    def data_dir(self) -> Path:
        return Path(self._config.storage.data_dir)

    def client(self):
        storage = self._config.storage
        client = connect(data_dir=self.data_dir, url=storage.clickhouse_url, database=storage.database)
        with self._lock:
            if not self._migrated:
                migrate(client)
                self._migrated = True
        return client


def _redact(url: str) -> str:
    """Hide a password in a URL before printing it."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _authenticator(config: Config):
    if not config.auth.enabled:
        return None
    return Authenticator(KeyStore(keys_path(config)))


def _log_id(data_dir: Path) -> str:
    """A random id for this data directory's log, part of every insert token, so a log that
    is deleted and started anew never reuses the tokens of the old one."""
    path = data_dir / "log-id"
    if not path.exists():
        path.write_text(uuid.uuid4().hex)
    return path.read_text().strip()


class Service:
    def __init__(self, config: Config):
        self.config = config
        self.metrics = ProcessorMetrics()
        self.store = Store(config)
        data_dir = self.store.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        price_book = PriceBook.load(config.pricing.price_book) if config.pricing.price_book else None
        self.pricer = Pricer(price_book)
        self.log = WriteAheadLog(data_dir / "wal", segment_bytes=config.wal.segment_bytes,
                                 max_bytes=config.wal.max_bytes, fsync=config.wal.fsync)
        self.budgets = BudgetService(self.store.client, anomalies=self._anomaly_alerts)
        if config.budgets.file:
            load_budget_file(config.budgets.file)  # a broken file stops the start, with file:line
        handoff = RowsHandoff()
        self.pipeline = Pipeline(pricer=self.pricer, log=self.log, metrics=self.metrics,
                                 observers=[self.budgets.observe], handoff=handoff)
        self._store_remembered = False
        self._remember_logged_spans()
        self.drain = LogDrain(
            log_=self.log, log_id=_log_id(data_dir), metrics=self.metrics,
            open_writer=self._open_writer, handoff=handoff,
            dead_letter_path=data_dir / "dead-letter.jsonl",
            flush_interval_s=config.writer.flush_interval_ms / 1000,
        )
        self.authenticate = _authenticator(config)
        # Requests in flight may hold this many bytes (raw and inflated) before new ones get 503.
        self.inflight = InflightBytes(config.http.max_inflight_bytes)
        self._admin_token = secrets.token_urlsafe(24)
        self._query_client = None
        self._analytics_runner = None
        self.http_url = ""
        self.grpc_address = ""

    def _remember_logged_spans(self) -> None:
        """Span ids in the log's unwritten tail count as accepted (see Pipeline.remember)."""
        after = self.log.committed_seq
        while records := self.log.read(after, max_records=1000, max_bytes=64 << 20):
            for _, payload in records:
                trace_rows, _ = decode_batch(payload)
                self.pipeline.remember([(row[_TRACE_ID], row[_SPAN_ID]) for row in trace_rows])
            after = records[-1][0]

    def _open_writer(self) -> ClickHouseWriter:
        client = self.store.client()
        if not self._store_remembered:
            # Spans stored just before a crash may not have been acknowledged: a client will retry them.
            rows = client.query("SELECT TraceId, SpanId FROM otel_traces WHERE Timestamp >= now64(9) - INTERVAL 15 MINUTE "
                                "ORDER BY Timestamp DESC LIMIT 200000").result_rows
            self.pipeline.remember([tuple(row) for row in rows])
            self._store_remembered = True
        return ClickHouseWriter(client, OTEL_TRACES_COLUMNS)

    # --- HTTP API beside the OTLP receiver -------------------------------------------------

    def routes(self) -> list[Route]:
        return otlp_http_routes(self.pipeline, max_request_bytes=self.config.http.max_request_bytes,
                                authenticate=self.authenticate, inflight=self.inflight) + [
            Route("/healthz", self._healthz, methods=["GET"]),
            Route("/readyz", self._readyz, methods=["GET"]),
            Route("/metrics", self._metrics, methods=["GET"]),
            Route("/v1/query", self._query, methods=["POST"]),
        ] + budget_routes(self.budgets, authorize=self._is_admin)

    def _is_admin(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self._admin_token}"

    async def _healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def _readyz(self, request: Request) -> Response:
        """Ready = can accept: the log has room. A store outage alone does not stop intake."""
        full = self.log.bytes_used >= self.config.wal.max_bytes * 0.95
        body = {"ready": not full, "store_ok": self.drain.store_ok, "store_error": self.drain.store_error,
                "log_bytes": self.log.bytes_used, "log_lag_records": self.log.lag_records}
        return JSONResponse(body, status_code=503 if full else 200)

    async def _metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def _query(self, request: Request) -> Response:
        """SQL for `llmledger query` while this process holds the embedded store.
        Only callers that can read the data directory's service file know the token."""
        if not self._is_admin(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            body = await request.json()
            sql = body["sql"]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'expected JSON {"sql": "..."}'}, status_code=400)
        try:
            columns, rows = await anyio.to_thread.run_sync(self._run_query, sql, body.get("parameters"))
        except Exception as exc:  # a bad query is the caller's error, reported as such
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"columns": columns, "rows": rows})

    def _run_query(self, sql: str, parameters: dict | None):
        if self._query_client is None:
            self._query_client = self.store.client()
        return run_query(self._query_client, sql, parameters)

    # --- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        self.drain.start()
        # Budgets are known before the first span is taken, so the running totals miss nothing.
        budgets_loaded = await anyio.to_thread.run_sync(self._load_budgets)
        budget_loop = threading.Thread(target=self._keep_budgets, args=(stop_budgets := threading.Event(),
                                                                         budgets_loaded),
                                       name="llmledger-budgets", daemon=True)
        budget_loop.start()
        app = Starlette(routes=self.routes())
        http = uvicorn.Server(uvicorn.Config(app, host=self.config.http.host, port=self.config.http.port,
                                             log_level="warning", lifespan="off", access_log=False))
        http.install_signal_handlers = lambda: None  # this loop handles the signals
        http_task = asyncio.create_task(http.serve())
        while not http.started:
            if http_task.done():
                await http_task  # raises why it could not start (e.g. the port is taken)
                raise SystemExit(f"cannot listen on {self.config.http.host}:{self.config.http.port}")
            await asyncio.sleep(0.02)
        host, port = http.servers[0].sockets[0].getsockname()[:2]
        self.http_url = f"http://{host}:{port}"

        grpc_server = None
        if self.config.grpc.enabled:
            grpc_server, grpc_port = build_grpc_server(self.pipeline, host=self.config.grpc.host,
                                                       port=self.config.grpc.port,
                                                       max_request_bytes=self.config.http.max_request_bytes,
                                                       authenticate=self.authenticate, inflight=self.inflight)
            await grpc_server.start()
            self.grpc_address = f"{self.config.grpc.host}:{grpc_port}"

        self._warn_if_open()
        self._write_service_file()
        listening = f"OTLP/HTTP on {self.http_url}"
        if self.grpc_address:
            listening += f", OTLP/gRPC on {self.grpc_address}"
        print(f"llmledger serving: {listening}; storing in {self.store.describe()}; "
              f"log at {self.store.data_dir / 'wal'}", flush=True)
        if self.log.recovery.replayable_records:
            print(f"replaying {self.log.recovery.replayable_records} acknowledged log records", flush=True)

        await stop.wait()
        print("llmledger stopping: finishing what is in the log", flush=True)
        http.should_exit = True
        if grpc_server is not None:
            await grpc_server.stop(grace=2)
        await http_task
        stop_budgets.set()
        await anyio.to_thread.run_sync(self.drain.stop)
        self.log.close()
        (self.store.data_dir / SERVICE_FILE).unlink(missing_ok=True)

    def _load_budgets(self) -> bool:
        try:
            if self.config.budgets.file:
                self.budgets.sync_file(self.config.budgets.file)
            self.budgets.reconcile()
            return True
        except Exception as exc:  # the store may be down: the budget loop keeps trying
            log.warning("cannot load budgets yet (%s); will retry", exc)
            return False

    def _keep_budgets(self, stop: threading.Event, loaded: bool) -> None:
        """Reconcile spend and evaluate alerts every interval (loading the budget file first
        if the store was down at start). Store trouble is logged and retried: it never stops intake."""
        while not stop.wait(self.config.budgets.evaluate_interval_s):
            try:
                if not loaded:
                    loaded = self._load_budgets()
                    continue
                self.budgets.reconcile()
                self.budgets.evaluate()
                self._update_budget_gauges()
            except Exception:  # the store may be down; the next round tries again
                log.warning("budget evaluation failed; will retry", exc_info=True)

    def _update_budget_gauges(self) -> None:
        for status in self.budgets.status():
            budget_id = status.budget.id
            self.metrics.budget_spend.labels(budget_id).set(float(status.spend))
            self.metrics.budget_limit.labels(budget_id).set(float(status.budget.limit))
            self.metrics.budget_percent.labels(budget_id).set(float(status.percent))

    def _anomaly_alerts(self):
        """Anomalies of the last day, as alerts; only asked for when anomaly channels are set."""
        if not self.budgets.anomaly_channels:
            return []
        end = datetime.now(timezone.utc)
        if self._analytics_runner is None:
            self._analytics_runner = runner_for_client(self.store.client())
        found = find_anomalies(self._analytics_runner, end - timedelta(days=1), end)
        return [anomaly_alert(anomaly) for anomaly in found]

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
