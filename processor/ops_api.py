"""The service's own HTTP endpoints beside the OTLP receiver: /healthz, /readyz, /metrics,
/v1/query, which `llmledger query` and the other commands use while this process holds the
embedded store (chDB lets one process open it), and /v1/reprice for `llmledger prices reprice`.

With API keys on, /healthz stays open (it says "ok" and nothing else); /metrics and the
details of /readyz are for the operator: the local admin token or a key bound to no app or
tenant (they cover every tenant). Anyone else gets /readyz's ready flag alone."""
from __future__ import annotations

import json
from typing import Callable

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .query import run_query
from .query_guard import QueryRefused
from .telemetry import MetricsPage


class OpsApi:
    def __init__(self, *, store, log, drain, metrics, wal_max_bytes: int, admin_token: str,
                 authenticate: Callable | None = None):
        self._store = store
        self._log = log
        self._drain = drain
        self._metrics_page = MetricsPage(metrics.registry)
        self._wal_max_bytes = wal_max_bytes
        self._admin_token = admin_token
        self._authenticate = authenticate
        self._query_client = None

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self._healthz, methods=["GET"]),
            Route("/readyz", self._readyz_for_caller, methods=["GET"]),
            Route("/metrics", self._metrics_text, methods=["GET"]),
            Route("/v1/query", self._query, methods=["POST"]),
            Route("/v1/reprice", self._reprice, methods=["POST"]),
        ]

    def is_admin(self, request: Request) -> bool:
        """Only callers that can read the data directory's service file know the token."""
        return request.headers.get("authorization") == f"Bearer {self._admin_token}"

    def _refuse_unless_operator(self, request: Request) -> Response | None:
        """None for the operator (anyone, without API keys), else the 401/403 to answer."""
        if self._authenticate is None or self.is_admin(request):
            return None
        try:
            principal = self._authenticate(request.headers)
        except PermissionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if principal is not None and principal.bound:
            return JSONResponse({"error": "this key is bound to an app or tenant; service-wide figures need "
                                          "a key bound to neither"}, status_code=403)
        return None

    async def _readyz_for_caller(self, request: Request) -> Response:
        response = await self._readyz(request)
        if self._refuse_unless_operator(request) is None:
            return response
        return JSONResponse({"ready": json.loads(response.body)["ready"]}, status_code=response.status_code)

    async def _healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def _readyz(self, request: Request) -> Response:
        """Ready = requests are taken and stored: the log has room and the drain makes progress.
        While the store is down (or its disk full) intake goes on into the log, but a load
        balancer should prefer a replica that is storing."""
        drain = self._drain
        full = self._log.bytes_used >= self._wal_max_bytes * 0.95
        ready = not full and not drain.stalled
        body = {"ready": ready, "store_ok": not drain.stalled, "store_error": drain.problem,
                "stalled_seconds": round(drain.stalled_seconds, 1), "log_full": full,
                "log_bytes": self._log.bytes_used, "log_lag_records": self._log.lag_records}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def _metrics_text(self, request: Request) -> Response:
        refusal = self._refuse_unless_operator(request)
        if refusal is not None:
            return refusal
        return Response(await self._metrics_page.text(), media_type=MetricsPage.CONTENT_TYPE)

    async def _query(self, request: Request) -> Response:
        if not self.is_admin(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            body = await request.json()
            sql = body["sql"]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'expected JSON {"sql": "..."}'}, status_code=400)
        try:
            columns, rows = await anyio.to_thread.run_sync(self._run_query, sql, body.get("parameters"))
        except QueryRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=403)
        except Exception as exc:  # a bad query is the caller's error, reported as such
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"columns": columns, "rows": rows})

    async def _reprice(self, request: Request) -> Response:
        """`llmledger prices reprice` while this process holds the embedded store."""
        from .pricing import PriceBookError
        from .pricing.repricing import reprice_on_request

        if not self.is_admin(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            body = await request.json()
            document = await anyio.to_thread.run_sync(lambda: reprice_on_request(self._store.client(), body))
        except (ValueError, KeyError, TypeError, PriceBookError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(document)

    def _run_query(self, sql: str, parameters: dict | None):
        if self._query_client is None:
            self._query_client = self._store.client()
        return run_query(self._query_client, sql, parameters)
