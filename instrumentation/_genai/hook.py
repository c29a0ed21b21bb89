"""The one place every SDK patch passes a call through after its span has started and
before its request is sent.

    args, kwargs = before_send(call, args, kwargs, set_json_body_model)   # sync patches
    args, kwargs = await abefore_send(call, args, kwargs, set_model_keyword)  # async ones
    result = wrapped(*args, **kwargs)

What may happen here applies to every SDK alike, so it lives here and not in the
patches: today the opt-in budget guard (`llmledger.instrumentation.budget`); caching
and routing belong here too. The patch hands over the arguments the SDK method was
called with and a `ModelSetter`, the one SDK-specific piece: how to make the request
ask for another model. `before_send` returns the arguments to send (the same objects
when nothing changed).

A refusal of the budget guard ends the span with the error and is raised into the app:
that is the guard's purpose. Any other failure of the guard is logged and the call goes
ahead, like every other error of the instrumentation. When a budget degrades instead of
refusing, the request is rewritten to the budget's fallback model.
"""
from __future__ import annotations

from typing import Any, Callable

from . import attributes as attr
from .call import GenAICall
from .safety import report_internal_error

# (args, kwargs, model) -> (args, kwargs) asking for `model` instead.
ModelSetter = Callable[[tuple, dict, str], "tuple[tuple, dict]"]


def set_json_body_model(args: tuple, kwargs: dict, model: str) -> tuple[tuple, dict]:
    """For the `request(cast_to, options, ...)` of the OpenAI and Anthropic SDKs."""
    options = args[1] if len(args) > 1 else kwargs["options"]
    options.json_data["model"] = model
    return args, kwargs


def set_model_keyword(args: tuple, kwargs: dict, model: str) -> tuple[tuple, dict]:
    """For SDK methods called as `method(model=..., ...)`."""
    return args, {**kwargs, "model": model}


def before_send(call: GenAICall, args: tuple, kwargs: dict, set_model: ModelSetter) -> tuple[tuple, dict]:
    from .. import budget  # only imported by apps whose calls are traced

    if budget.active_guard() is None:
        return args, kwargs
    try:
        fallback = budget.check_before_call(call.start_attributes, _resource(call))
    except (budget.BudgetExceededError, budget.BudgetServiceUnavailableError) as refusal:
        call.fail(refusal)
        raise
    except Exception:
        report_internal_error("checking the budget")
        return args, kwargs
    return _degrade(call, fallback, args, kwargs, set_model)


async def abefore_send(call: GenAICall, args: tuple, kwargs: dict, set_model: ModelSetter) -> tuple[tuple, dict]:
    from .. import budget

    if budget.active_guard() is None:
        return args, kwargs
    try:
        fallback = await budget.acheck_before_call(call.start_attributes, _resource(call))
    except (budget.BudgetExceededError, budget.BudgetServiceUnavailableError) as refusal:
        call.fail(refusal)
        raise
    except Exception:
        report_internal_error("checking the budget")
        return args, kwargs
    return _degrade(call, fallback, args, kwargs, set_model)


def _resource(call: GenAICall) -> Any:
    """The attributes of the resource the call's span belongs to: its service name and
    environment decide which budgets apply when the call itself does not name them."""
    resource = getattr(call.span, "resource", None)
    return resource.attributes if resource is not None else None


def _degrade(call: GenAICall, fallback: str | None, args: tuple, kwargs: dict,
             set_model: ModelSetter) -> tuple[tuple, dict]:
    if not fallback:
        return args, kwargs
    try:
        args, kwargs = set_model(args, kwargs, fallback)
    except Exception:
        report_internal_error("switching to the budget's fallback model")
        return args, kwargs
    call.set_attribute(attr.REQUEST_MODEL, fallback)
    return args, kwargs
