"""The budget guard: ask the llmledger service before an LLM call whether a budget allows it.

Opt in with code or with the environment:

    from llmledger.instrumentation import budget
    budget.enable(url="http://llmledger:4318", fail_open=True, cache_seconds=5)

    LLMLEDGER_BUDGET_URL=http://llmledger:4318      # also: LLMLEDGER_BUDGET_FAIL_OPEN=false,
                                                   # LLMLEDGER_BUDGET_CACHE_SECONDS, LLMLEDGER_BUDGET_TIMEOUT,
                                                   # LLMLEDGER_BUDGET_API_KEY (when the service has auth on)

Then every instrumented call first asks `GET /v1/budgets/check` (answers are cached for
`cache_seconds` per app/user/model/... combination) and raises `BudgetExceededError` when a
hard budget is spent. When the service cannot be reached, `fail_open=True` (the default)
lets the call through and `fail_open=False` raises `BudgetServiceUnavailableError`.

Budgets are enforced from the spans the service has received, so a budget stops calls a
few seconds after the spend that exhausted it (the exporter's batch delay, the cache),
and up to about a minute later for spend that another replica of the service received.

For instrumentation authors, the hook is one call before the SDK sends its request:

    model = check_before_call(attributes, resource)   # or: await acheck_before_call(...)
    # `attributes` are the span attributes the call will carry (gen_ai.request.model,
    # gen_ai.provider.name, and any llmledger.* / user.id attribution; the attribution of
    # the current context is merged in); `resource` the span's resource attributes, whose
    # service.name and environment apply where the call names no app or environment
    # (default: the global tracer provider's). Returns None to go ahead as asked, or the
    # name of a cheaper model when a budget degrades instead of refusing. Raises
    # BudgetExceededError (with .decision, .budget_id, .retry_after) to refuse the call.
    # When the guard is not enabled it does nothing and returns None.

`BudgetMiddleware` does the same for a whole ASGI app: it answers 429 (with the service's
decision as JSON and Retry-After) before the app runs, identifying the caller from the
same headers as `AttributionMiddleware`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_http_instrumentation

from llmledger.instrumentation.asgi import DEFAULT_HEADER_MAP, ASGIApp, Receive, Scope, Send, attribute_key_for
from llmledger.instrumentation.attribution import TAG_PREFIX, current_attributes

logger = logging.getLogger(__name__)

CHECK_PATH = "/v1/budgets/check"

# Span attribute -> query parameter of the check.
_PARAMETERS = {
    "llmledger.app": "app",
    "user.id": "user",
    "llmledger.team": "team",
    "llmledger.feature": "feature",
    "llmledger.tenant": "tenant",
    "gen_ai.request.model": "model",
    "gen_ai.provider.name": "provider",
    "gen_ai.system": "provider",  # the older name
    "deployment.environment.name": "environment",
    "deployment.environment": "environment",
}
# Where the processor takes them from when the span has none: the resource.
_RESOURCE_DEFAULTS = (("service.name", "app"), ("deployment.environment.name", "environment"),
                      ("deployment.environment", "environment"))


class BudgetExceededError(RuntimeError):
    """A budget refuses the call. `decision` is the service's answer (budget_id, limit, spend,
    remaining, retry_after in seconds, ...)."""

    def __init__(self, message: str, decision: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.decision: dict[str, Any] = dict(decision or {})
        self.budget_id: str | None = self.decision.get("budget_id")
        self.retry_after: int | None = self.decision.get("retry_after")


class BudgetServiceUnavailableError(BudgetExceededError):
    """The budget service could not be asked and the guard fails closed."""


class BudgetGuard:
    """Asks one budget service, caching each answer for `cache_seconds`. Thread-safe."""

    def __init__(self, url: str, *, fail_open: bool = True, cache_seconds: float = 5.0, timeout: float = 0.5,
                 max_cached: int = 10_000, api_key: str | None = None):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"budget service URL must start with http:// or https://, got {url!r}")
        if cache_seconds < 0 or timeout <= 0:
            raise ValueError("cache_seconds must be >= 0 and timeout > 0")
        base = url.rstrip("/")
        self.check_url = base if base.endswith(CHECK_PATH) else base + CHECK_PATH
        self.fail_open = fail_open
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        # The service's API key, when it requires one (auth.enabled).
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._max_cached = max_cached
        self._cache: OrderedDict[tuple, tuple[float, str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._last_warning = 0.0
        # The service is reached directly: a proxy would only add latency to every call.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def check(self, attributes: Mapping[str, str], resource: Mapping[str, Any] | None = None) -> str | None:
        """None to go ahead, a fallback model name to degrade; raises BudgetExceededError.
        `resource`: the attributes of the resource the call's span belongs to (default: the
        global tracer provider's)."""
        key = self.query_for(attributes, resource)
        outcome = self._cached(key)
        if outcome is None:
            outcome = self._remember(key, self._ask(key))
        return self._apply(outcome)

    async def acheck(self, attributes: Mapping[str, str], resource: Mapping[str, Any] | None = None) -> str | None:
        """Like `check`, without blocking the event loop while the service answers."""
        key = self.query_for(attributes, resource)
        outcome = self._cached(key)
        if outcome is None:
            outcome = self._remember(key, await asyncio.to_thread(self._ask, key))
        return self._apply(outcome)

    @staticmethod
    def query_for(attributes: Mapping[str, str],
                  resource: Mapping[str, Any] | None = None) -> tuple[tuple[str, str], ...]:
        """The check's query parameters: the call's attributes over the context's attribution,
        the resource's service name and environment where neither names them."""
        merged = {**current_attributes(), **attributes}
        query: dict[str, str] = {}
        for attribute, value in merged.items():
            if not isinstance(value, str) or not value:
                continue
            if attribute in _PARAMETERS:
                query.setdefault(_PARAMETERS[attribute], value)
            elif attribute.startswith(TAG_PREFIX):
                query["tag." + attribute[len(TAG_PREFIX):]] = value
        if resource is None:
            resource = getattr(getattr(trace.get_tracer_provider(), "resource", None), "attributes", None) or {}
        for attribute, parameter in _RESOURCE_DEFAULTS:
            if parameter not in query and isinstance(resource.get(attribute), str) and resource[attribute]:
                query[parameter] = resource[attribute]
        return tuple(sorted(query.items()))

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # --- asking ----------------------------------------------------------------------------

    def _ask(self, query: tuple[tuple[str, str], ...]) -> tuple[str, Any]:
        url = self.check_url + ("?" + urllib.parse.urlencode(query) if query else "")
        try:
            with suppress_http_instrumentation():  # no client span for every budget check
                request = urllib.request.Request(url, headers=self._headers)
                with self._opener.open(request, timeout=self.timeout) as response:
                    return _answer(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            if exc.code == 429:
                try:
                    return "deny", json.loads(exc.read())
                except ValueError:
                    return "deny", {"decision": "deny", "retry_after": _int(exc.headers.get("Retry-After"))}
            return "unreachable", f"the budget service answered HTTP {exc.code}"
        except (OSError, ValueError) as exc:  # refused, timed out, not JSON
            return "unreachable", f"cannot reach the budget service at {self.check_url}: {exc}"

    def _apply(self, outcome: tuple[str, Any]) -> str | None:
        kind, body = outcome
        if kind == "allow":
            return None
        if kind == "degrade":
            return body.get("fallback_model") or None
        if kind == "deny":
            raise BudgetExceededError(_deny_message(body), body)
        if self.fail_open:
            self._warn(f"{body}; letting the call through (fail-open)")
            return None
        raise BudgetServiceUnavailableError(f"{body}; refusing the call (fail-closed)",
                                            {"decision": "unavailable", "retry_after": max(1, int(self.cache_seconds))})

    # --- the cache ---------------------------------------------------------------------------

    def _cached(self, key: tuple) -> tuple[str, Any] | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None or entry[0] <= time.monotonic():
                return None
            return entry[1], entry[2]

    def _remember(self, key: tuple, outcome: tuple[str, Any]) -> tuple[str, Any]:
        seconds = self.cache_seconds
        if outcome[0] == "deny" and isinstance(outcome[1].get("retry_after"), int):
            seconds = min(seconds, outcome[1]["retry_after"])  # not past the window's reset
        if seconds > 0:
            with self._lock:
                self._cache[key] = (time.monotonic() + seconds, *outcome)
                self._cache.move_to_end(key)
                while len(self._cache) > self._max_cached:
                    self._cache.popitem(last=False)
        return outcome

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning > 60:  # once a minute, not once a call
            self._last_warning = now
            logger.warning("llmledger budget guard: %s", message)


def _answer(body: Any) -> tuple[str, Any]:
    if not isinstance(body, dict) or body.get("decision") not in ("allow", "degrade", "deny"):
        return "unreachable", "the budget service gave an answer this guard does not understand"
    return body["decision"], body


def _deny_message(body: Mapping[str, Any]) -> str:
    message = f"budget {body.get('budget_id', '(unnamed)')} is spent"
    if body.get("spend") is not None and body.get("limit") is not None:
        window = f", {body['window']} window" if body.get("window") else ""
        message += f" ({body['spend']} of {body['limit']} USD{window})"
    if body.get("retry_after") is not None:
        message += f"; retry in {body['retry_after']} s"
    return message


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


# --- the process-wide guard ---------------------------------------------------------------------

_guard: BudgetGuard | None = None
_environment_read = False
_guard_lock = threading.Lock()


def enable(url: str | None = None, *, fail_open: bool | None = None, cache_seconds: float | None = None,
           timeout: float | None = None, api_key: str | None = None) -> BudgetGuard:
    """Turn the guard on for this process. Arguments not given come from LLMLEDGER_BUDGET_URL,
    LLMLEDGER_BUDGET_FAIL_OPEN, LLMLEDGER_BUDGET_CACHE_SECONDS, LLMLEDGER_BUDGET_TIMEOUT and
    LLMLEDGER_BUDGET_API_KEY, then the defaults (fail open, 5 s cache, 0.5 s timeout, no key)."""
    global _guard, _environment_read
    env = os.environ
    url = url or env.get("LLMLEDGER_BUDGET_URL")
    if not url:
        raise ValueError("no budget service URL: pass url= or set LLMLEDGER_BUDGET_URL")
    if fail_open is None:
        fail_open = _env_flag("LLMLEDGER_BUDGET_FAIL_OPEN", True)
    cache_seconds = _env_number("LLMLEDGER_BUDGET_CACHE_SECONDS", 5.0) if cache_seconds is None else cache_seconds
    timeout = _env_number("LLMLEDGER_BUDGET_TIMEOUT", 0.5) if timeout is None else timeout
    api_key = api_key or env.get("LLMLEDGER_BUDGET_API_KEY")
    guard = BudgetGuard(url, fail_open=fail_open, cache_seconds=cache_seconds, timeout=timeout, api_key=api_key)
    with _guard_lock:
        _guard, _environment_read = guard, True
    return guard


def disable() -> None:
    """Turn the guard off (also when it was enabled by LLMLEDGER_BUDGET_URL)."""
    global _guard, _environment_read
    with _guard_lock:
        _guard, _environment_read = None, True


def active_guard() -> BudgetGuard | None:
    """The process's guard: the one `enable()` set, or one from LLMLEDGER_BUDGET_URL."""
    global _environment_read
    if _guard is None and not _environment_read:
        with _guard_lock:
            _environment_read = True
        if os.environ.get("LLMLEDGER_BUDGET_URL"):
            return enable()
    return _guard


def check_before_call(attributes: Mapping[str, str], resource: Mapping[str, Any] | None = None) -> str | None:
    """The hook for instrumentations; see the module's docstring."""
    guard = active_guard()
    return None if guard is None else guard.check(attributes, resource)


async def acheck_before_call(attributes: Mapping[str, str], resource: Mapping[str, Any] | None = None) -> str | None:
    guard = active_guard()
    return None if guard is None else await guard.acheck(attributes, resource)


def _env_flag(name: str, default: bool) -> bool:
    text = os.environ.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={text!r}: expected true or false")


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    try:
        return float(text) if text else default
    except ValueError:
        raise ValueError(f"{name}={text!r}: expected a number of seconds") from None


# --- ASGI ---------------------------------------------------------------------------------------


class BudgetMiddleware:
    """Pure ASGI middleware: refuses over-budget requests with 429 before the app runs.

        app = BudgetMiddleware(app)                              # the process's guard
        app = BudgetMiddleware(app, guard=BudgetGuard(url), attributes={"llmledger.app": "chatbot"})

    The caller is identified from the headers of `header_map` (by default those of
    AttributionMiddleware: X-App-ID, X-User-ID, X-Team-ID, ...) over the fixed `attributes`.
    A budget that degrades lets the request through and puts the fallback model in
    `scope["state"]["llmledger_fallback_model"]` (Starlette: `request.state`). With the guard
    failing closed and the service unreachable, the answer is 503. Without a guard
    (not enabled), requests pass untouched."""

    def __init__(self, app: ASGIApp, *, guard: BudgetGuard | None = None,
                 header_map: Mapping[str, str] | None = None, attributes: Mapping[str, str] | None = None):
        self.app = app
        self._guard = guard
        self._attributes = dict(attributes or {})
        header_map = DEFAULT_HEADER_MAP if header_map is None else header_map
        self._keys_by_header = {header.strip().lower().encode("latin-1"): attribute_key_for(field)
                                for header, field in header_map.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guard = self._guard or active_guard()
        if scope["type"] != "http" or guard is None:
            await self.app(scope, receive, send)
            return
        try:
            fallback = await guard.acheck(self._identity(scope))
        except BudgetServiceUnavailableError as exc:
            await _respond(send, 503, {"error": str(exc)}, exc.retry_after)
            return
        except BudgetExceededError as exc:
            await _respond(send, 429, exc.decision or {"decision": "deny", "error": str(exc)}, exc.retry_after)
            return
        if fallback:
            scope.setdefault("state", {})["llmledger_fallback_model"] = fallback
        await self.app(scope, receive, send)

    def _identity(self, scope: Scope) -> dict[str, str]:
        attributes = dict(self._attributes)
        for raw_name, raw_value in scope.get("headers") or ():
            key = self._keys_by_header.get(raw_name.lower())
            value = raw_value.decode("latin-1").strip()
            if key is not None and value and len(value) <= 256:
                attributes[key] = value
        return attributes


async def _respond(send: Send, status: int, body: Mapping[str, Any], retry_after: int | None) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
