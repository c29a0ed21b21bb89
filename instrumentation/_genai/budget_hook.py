"""Where the opt-in budget guard (`llmledger.instrumentation.budget`) meets the SDK patches.

Called after a call's span has started and before its request is sent. A refusal ends
the span with the error and is raised into the app: that is the guard's purpose. Any
other failure of the guard is logged and the call goes ahead, like every other error of
the instrumentation. When a budget degrades instead of refusing, the request body's model
is swapped for the budget's fallback model.
"""
from __future__ import annotations

from typing import Any

from . import attributes as attr
from .call import GenAICall
from .safety import report_internal_error


def _resource(call: GenAICall) -> Any:
    """The attributes of the resource the call's span belongs to: its service name and
    environment decide which budgets apply when the call itself does not name them."""
    resource = getattr(call.span, "resource", None)
    return resource.attributes if resource is not None else None


def _request_body(args: tuple, kwargs: dict) -> Any:
    options = args[1] if len(args) > 1 else kwargs["options"]
    return options.json_data


def _apply(call: GenAICall, fallback: str | None, args: tuple, kwargs: dict) -> None:
    if fallback:
        _request_body(args, kwargs)["model"] = fallback
        call.set_attribute(attr.REQUEST_MODEL, fallback)


def enforce_budget(call: GenAICall, args: tuple, kwargs: dict) -> None:
    from .. import budget  # only imported by apps whose calls are traced

    if budget.active_guard() is None:
        return
    try:
        fallback = budget.check_before_call(call.start_attributes, _resource(call))
    except (budget.BudgetExceededError, budget.BudgetServiceUnavailableError) as refusal:
        call.fail(refusal)
        raise
    except Exception:
        report_internal_error("checking the budget")
        return
    _apply(call, fallback, args, kwargs)


async def aenforce_budget(call: GenAICall, args: tuple, kwargs: dict) -> None:
    from .. import budget

    if budget.active_guard() is None:
        return
    try:
        fallback = await budget.acheck_before_call(call.start_attributes, _resource(call))
    except (budget.BudgetExceededError, budget.BudgetServiceUnavailableError) as refusal:
        call.fail(refusal)
        raise
    except Exception:
        report_internal_error("checking the budget")
        return
    _apply(call, fallback, args, kwargs)
