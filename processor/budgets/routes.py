"""The budgets' HTTP API, on the service's HTTP port.

    GET    /v1/budgets/check?app=…&user=…&model=…&tag.<name>=…   200 allow/degrade, 429 deny
    GET    /v1/budgets                    status of every budget, undelivered alerts (admin)
    POST   /v1/budgets                    {"budgets": [...]}: add or change (admin)
    DELETE /v1/budgets/{id}               delete one budget                  (admin)
    POST   /v1/budgets/evaluate           send the alerts that are due       (admin)

The check answers from memory and never waits for the store. Admin routes need
`authorize(request)` to return True (the service checks its admin token). With API keys, a
key bound to an app/tenant is answered for its own app and tenant whatever it asks: the
budgets of that tenant and those that span tenants (the operator's caps) decide, and it
sees the figures (spend, limit) only of budgets inside its binding (`Principal.owns`).
"""
from __future__ import annotations

from typing import Callable

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .budget_file import BudgetFileError, parse_budget_document
from .service import BudgetService

CHECK_PARAMETERS = ("app", "user", "model", "team", "environment", "provider", "feature", "tenant")
TAG_PARAMETER_PREFIX = "tag."
_ANSWER_ONLY = ("decision", "allowed", "retry_after", "fallback_model")


def budget_routes(service: BudgetService, *, authorize: Callable[[Request], bool] | None = None,
                  authenticate: Callable | None = None) -> list[Route]:
    """`authorize(request)` admits the admin routes; `authenticate(headers)`, when the service
    requires API keys, admits the check (it raises PermissionError for a bad key)."""
    def admin(handler):
        async def guarded(request: Request) -> Response:
            if authorize is None or not authorize(request):
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            return await handler(request)
        return guarded

    async def check(request: Request) -> Response:
        principal = None
        if authenticate is not None:
            try:
                principal = authenticate(request.headers)
            except PermissionError as exc:
                return JSONResponse({"error": str(exc)}, status_code=401)
        attributes: dict[str, str] = {}
        tags: dict[str, str] = {}
        for name, value in request.query_params.items():
            if name in CHECK_PARAMETERS:
                attributes[name] = value
            elif name.startswith(TAG_PARAMETER_PREFIX) and len(name) > len(TAG_PARAMETER_PREFIX):
                tags[name[len(TAG_PARAMETER_PREFIX):]] = value
            else:
                expected = ", ".join(CHECK_PARAMETERS)
                return JSONResponse({"error": f"unknown parameter {name!r} (expected {expected} or tag.<name>)"},
                                    status_code=400)
        if principal is not None:
            # A bound key asks about its own calls: they count under its app and tenant.
            attributes["app"], attributes["tenant"] = principal.pin(attributes.get("app", ""),
                                                                     attributes.get("tenant", ""))
        bound = principal if principal is not None and principal.bound else None
        decision = service.check(**attributes, tags=tags,
                                 shown=None if bound is None else lambda b: bound.owns(b.scope, b.value, b.tenant))
        body = decision.to_dict()
        if bound is not None and not bound.owns(decision.scope, decision.scope_value, decision.tenant):
            # The deciding budget is not this key's own: the answer, not its figures.
            body = {key: value for key, value in body.items() if key in _ANSWER_ONLY}
        headers = {"Cache-Control": "no-store"}
        if not decision.allowed:
            headers["Retry-After"] = str(decision.retry_after)
        return JSONResponse(body, status_code=200 if decision.allowed else 429, headers=headers)

    async def status(request: Request) -> Response:
        undelivered = await anyio.to_thread.run_sync(service.undelivered)  # from the store
        return JSONResponse({"budgets": [s.to_dict() for s in service.status()],
                             "deliveries": [d.to_dict() for d in undelivered]})

    async def set_budgets(request: Request) -> Response:
        try:
            document = await request.json()
        except ValueError:
            return JSONResponse({"error": 'expected JSON {"budgets": [...]}'}, status_code=400)
        try:
            parsed = parse_budget_document(document, "request")
        except BudgetFileError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        ids = await anyio.to_thread.run_sync(lambda: service.set_budgets(parsed.budgets, source="cli"))
        return JSONResponse({"ids": ids})

    async def delete_budget(request: Request) -> Response:
        budget_id = request.path_params["budget_id"]
        deleted = await anyio.to_thread.run_sync(service.delete_budgets, [budget_id])
        if not deleted:
            return JSONResponse({"error": f"no budget {budget_id!r}"}, status_code=404)
        return JSONResponse({"deleted": deleted})

    async def evaluate(request: Request) -> Response:
        fired = await anyio.to_thread.run_sync(service.evaluate)
        return JSONResponse({"alerts": [alert.to_dict() for alert in fired]})

    return [
        Route("/v1/budgets/check", check, methods=["GET"]),
        Route("/v1/budgets/evaluate", admin(evaluate), methods=["POST"]),
        Route("/v1/budgets", admin(status), methods=["GET"]),
        Route("/v1/budgets", admin(set_budgets), methods=["POST"]),
        Route("/v1/budgets/{budget_id}", admin(delete_budget), methods=["DELETE"]),
    ]
