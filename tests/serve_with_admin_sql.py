"""`llmledger serve` with one route more, for fault tests only: POST /test/admin-sql runs a
statement as it is (detach a table, add a constraint), so that a test can make the real
store refuse inserts. The product has no such route: /v1/query only reads."""
from __future__ import annotations

import sys

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from llmledger.processor.cli import main
from llmledger.processor.ops_api import OpsApi

_product_routes = OpsApi.routes


def _routes_with_admin_sql(ops: OpsApi) -> list[Route]:
    async def admin_sql(request: Request) -> JSONResponse:
        if not ops.is_admin(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        sql = (await request.json())["sql"]
        await anyio.to_thread.run_sync(lambda: ops._store.client().command(sql))
        return JSONResponse({"done": sql})

    return _product_routes(ops) + [Route("/test/admin-sql", admin_sql, methods=["POST"])]


if __name__ == "__main__":
    OpsApi.routes = _routes_with_admin_sql
    sys.exit(main())
