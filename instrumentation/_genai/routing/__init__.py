"""Model routing, consulted by every SDK patch through the `_genai` call hook.

    router = active_router()            # from LLMLEDGER_ROUTING_FILE, or `configure(router)`
    facts = facts_of(body, call.start_attributes, resource)
    decision = router.route(facts)       # Decision(model, kind, reason) or None

- `facts`         what rules look at: attribution labels, size and complexity signals;
- `rules`         the engine: routes, budget downgrades, fallbacks on provider errors;
- `routing_file`  the YAML file, with `file:line` errors.

A routed call's span carries `gen_ai.request.model` = the model sent, and
`llmledger.routing.requested_model` / `.kind` / `.reason`; the processor values the
difference (`saved_cost`).
"""
from __future__ import annotations

import logging
import os
import threading

from .facts import RequestFacts, facts_of
from .routing_file import RoutingFileError, load_routing_file, parse_routing
from .rules import Condition, Decision, Fallback, Route, Router, Target, error_label

logger = logging.getLogger("llmledger.instrumentation")

ROUTING_FILE_ENV = "LLMLEDGER_ROUTING_FILE"

_router: Router | None = None
_configured = False
_lock = threading.Lock()


def configure(router: Router | None) -> None:
    """Route this process's calls with `router` (None: no routing)."""
    global _router, _configured
    with _lock:
        _router, _configured = router, True


def reset() -> None:
    global _router, _configured
    with _lock:
        _router, _configured = None, False


def active_router() -> Router | None:
    """The process's router: the one configured, else the file LLMLEDGER_ROUTING_FILE names.
    A bad file is logged once (with its line) and the calls go unrouted."""
    if not _configured:
        path = os.environ.get(ROUTING_FILE_ENV)
        router = None
        if path:
            try:
                router = load_routing_file(path)
            except RoutingFileError as exc:
                logger.error("llmledger routing: %s; calls are not routed", exc)
        configure(router)
    return _router


__all__ = ["Condition", "Decision", "Fallback", "RequestFacts", "Route", "Router", "RoutingFileError", "Target",
           "active_router", "configure", "error_label", "facts_of", "load_routing_file", "parse_routing", "reset"]
