"""The pages' HTTP routes on the service's HTTP port, beside OTLP and the API.

    GET /                  overview          GET /budgets      budgets
    GET /breakdown(.csv)   breakdown         GET /anomalies    anomalies
    GET /calls             expensive calls   GET /prices       prices and the cost calculator
    GET /traces/{id}       one trace         GET|POST /login, POST /logout
    GET /static/...        CSS, JS and the vendored chart library

With auth enabled, a page wants an API key: the `Authorization: Bearer` header, or the
cookie the login form sets from one. The key is checked on every request, so revoking it
shuts the pages too; a key bound to a tenant (or app) sees only that tenant's (app's) calls.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from importlib import resources
from typing import Callable
from urllib.parse import parse_qs, quote

import anyio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import format as fmt
from . import pages
from .view import FILTERS, RANGES, BadRequest, Viewer, parse_view

COOKIE = "llmledger_key"
_FORM_LIMIT = 4096  # bytes of a login form


def web_routes(*, runner_factory: Callable, authenticate: Callable | None, budget_statuses: Callable[[], list],
               pricer) -> list:
    """`runner_factory()` gives an analytics runner for the calling thread; `authenticate(headers)`
    (None: pages are open) returns a Principal or raises PermissionError."""
    site = _Site(runner_factory, authenticate, budget_statuses, pricer)
    static = StaticFiles(directory=str(resources.files(__package__).joinpath("static")))
    return [
        Route("/", site.page(pages.overview, "overview"), methods=["GET"]),
        Route("/breakdown", site.page(pages.breakdown, "breakdown"), methods=["GET"]),
        Route("/breakdown.csv", site.csv, methods=["GET"]),
        Route("/calls", site.page(pages.calls, "calls"), methods=["GET"]),
        Route("/traces/{trace_id}", site.trace, methods=["GET"]),
        Route("/budgets", site.page(pages.budgets, "budgets"), methods=["GET"]),
        Route("/anomalies", site.page(pages.anomalies, "anomalies"), methods=["GET"]),
        Route("/prices", site.page(pages.prices, "prices"), methods=["GET"]),
        Route("/login", site.login_form, methods=["GET"]),
        Route("/login", site.login, methods=["POST"]),
        Route("/logout", site.logout, methods=["POST"]),
        Mount("/static", app=static, name="static"),
    ]


def template_environment() -> Environment:
    """Jinja2 with the formatting module's functions as filters."""
    env = Environment(loader=FileSystemLoader(str(resources.files(__package__).joinpath("templates"))),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=fmt.money, money_of=fmt.money_of, call_cost=fmt.call_cost, rate=fmt.rate, tokens=fmt.tokens, number=fmt.number, percent=fmt.percent,
                       change=fmt.change, duration=fmt.duration_ns, label=fmt.label, short_id=fmt.short_id,
                       thresholds=fmt.thresholds)
    env.globals.update(count=fmt.count, moment=fmt.moment, RANGES=RANGES, FILTERS=FILTERS,
                       datetime_from=lambda seconds: datetime.fromtimestamp(seconds, timezone.utc))
    return env


class _Site:
    def __init__(self, runner_factory, authenticate, budget_statuses, pricer):
        self._runner_factory = runner_factory
        self._authenticate = authenticate
        self._budget_statuses = budget_statuses
        self._pricer = pricer
        self._pricer_lock = threading.Lock()
        self._env = template_environment()
        self._local = threading.local()

    # --- pages ---------------------------------------------------------------------------------

    def page(self, build: Callable, name: str):
        async def handle(request: Request) -> Response:
            return await self._respond(request, name, build)
        return handle

    async def trace(self, request: Request) -> Response:
        trace_id = request.path_params["trace_id"]

        def build(page):
            found = pages.trace(page, trace_id)
            if found is None:
                raise LookupError(f"no trace {trace_id} is stored (or it is not yours to see)")
            return found

        return await self._respond(request, "calls", build)

    async def csv(self, request: Request) -> Response:
        viewer = self._viewer(request)
        if viewer is None:
            return self._unauthorized(request)

        def build():
            return pages.breakdown_csv(self._context(request, viewer))

        try:
            body = await anyio.to_thread.run_sync(build)
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="llmledger-breakdown.csv"'})

    async def _respond(self, request: Request, name: str, build: Callable) -> Response:
        viewer = self._viewer(request)
        if viewer is None:
            return self._unauthorized(request)

        def render() -> tuple[str, int]:
            try:
                context = self._context(request, viewer)
            except BadRequest as exc:
                return self._error_page(name, viewer, str(exc), 400), 400
            try:
                page = build(context)
            except LookupError as exc:
                return self._error_page(name, viewer, str(exc), 404, context.view), 404
            except ValueError as exc:  # BadRequest, or the analytics API refusing a parameter
                return self._error_page(name, viewer, str(exc), 400, context.view), 400
            return self._render(page.template, name, viewer, context.view, page.context), 200

        html, status = await anyio.to_thread.run_sync(render)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    def _context(self, request: Request, viewer: Viewer) -> pages.PageContext:
        params = parse_qs(request.url.query, keep_blank_values=True)
        view = parse_view(params, viewer)
        return pages.PageContext(run=self._runner(), view=view, viewer=viewer, budget_statuses=self._budget_statuses,
                                 pricer=self._pricer, pricer_lock=self._pricer_lock)

    def _render(self, template: str, name: str, viewer: Viewer, view, context: dict) -> str:
        return self._env.get_template(template).render(page=name, viewer=viewer, view=view,
                                                       auth=self._authenticate is not None, **context)

    def _error_page(self, name: str, viewer: Viewer, message: str, status: int, view=None) -> str:
        return self._env.get_template("error.html").render(page=name, viewer=viewer, view=view, message=message,
                                                           status=status, auth=self._authenticate is not None)

    def _runner(self):
        run = getattr(self._local, "run", None)
        if run is None:
            run = self._local.run = self._runner_factory()
        return run

    # --- who looks -------------------------------------------------------------------------------

    def _viewer(self, request: Request) -> Viewer | None:
        """The viewer, or None when a key is wanted and none (or a bad one) was given."""
        if self._authenticate is None:
            return Viewer()
        headers = {"authorization": request.headers.get("authorization") or ""}
        if not headers["authorization"] and request.cookies.get(COOKIE):
            headers["authorization"] = f"Bearer {request.cookies[COOKIE]}"
        if not headers["authorization"]:
            return None
        try:
            principal = self._authenticate(headers)
        except PermissionError:
            return None
        return Viewer(key_id=principal.key_id, tenant=principal.tenant, app=principal.app)

    def _unauthorized(self, request: Request) -> Response:
        if request.headers.get("authorization"):  # a program with a bad key: no redirect
            return PlainTextResponse("invalid API key", status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    async def login_form(self, request: Request) -> Response:
        return self._login_page(request.query_params.get("next", "/"), "")

    async def login(self, request: Request) -> Response:
        body = (await request.body())[:_FORM_LIMIT]
        form = parse_qs(body.decode("utf-8", "replace"))
        key = (form.get("key") or [""])[0].strip()
        target = _local_path((form.get("next") or ["/"])[0])
        if self._authenticate is None:
            return RedirectResponse(target, status_code=303)
        try:
            self._authenticate({"authorization": f"Bearer {key}"})
        except PermissionError as exc:
            return self._login_page(target, f"That key does not open the pages: {exc}.", status=401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, key, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                            path="/")
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    def _login_page(self, target: str, message: str, status: int = 200) -> Response:
        html = self._env.get_template("login.html").render(page="login", viewer=None, view=None, message=message,
                                                           next=_local_path(target), auth=True)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _local_path(target: str) -> str:
    """Only paths on this site: a login never sends the viewer elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"
