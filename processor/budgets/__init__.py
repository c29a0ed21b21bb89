"""Budgets: limits on what a scope of LLM calls may cost per window, alerts, and the throttle.

    svc = BudgetService(client_factory, notifier=Notifier())
    svc.sync_file("budgets.yaml")     # upsert the file's budgets into ClickHouse
    svc.observe(calls)                # after each accepted request: running totals, no I/O
    svc.reconcile()                   # every ~30 s: re-read window spend from ClickHouse
    svc.evaluate()                    # send threshold alerts (once per threshold per window)
    svc.check(app="chatbot", user="u-1", model="gpt-4o")   # -> Decision, from memory
    routes = budget_routes(svc, authorize=...)             # /v1/budgets/check and friends

Enforcement lags ingestion: a call counts toward a budget once the processor has received
its span (the exporter's batch delay) and, for calls another replica received, once the
next reconcile reads it from the store (about a minute).
"""
from .alerts import anomaly_alert
from .budget_file import BudgetFile, BudgetFileError, load_budget_file, parse_budget_document, parse_budget_entries
from .decision import Decision
from .model import Budget, Window
from .service import BudgetService, FiredAlert
from .status import BudgetStatus


def budget_routes(service, authorize=None, authenticate=None):
    """The HTTP routes (see `routes.py`); imported lazily so the CLI does not load Starlette."""
    from .routes import budget_routes as routes

    return routes(service, authorize=authorize, authenticate=authenticate)


__all__ = ["Budget", "BudgetFile", "BudgetFileError", "BudgetService", "BudgetStatus", "Decision", "FiredAlert",
           "Window", "anomaly_alert", "budget_routes", "load_budget_file", "parse_budget_document",
           "parse_budget_entries"]
