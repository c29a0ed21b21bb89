"""The one point where every SDK patch hands a call to routing, the budget guard and the
response cache, after its span has started and before its request is sent.

    plan = before_send(call, exchange)        # or: await abefore_send(call, exchange)
    if plan.hit:
        return plan.replayed                  # answered from the cache; the span has ended
    try:
        result = call.send(wrapped, args, kwargs)   # or: await call.asend(...)
    except Exception as exc:
        if plan.can_fall_back(exc):
            return plan.fall_back(exc)        # or: await plan.afall_back(exc)
        raise
    ...read the result, with plan.recorder (None when nothing is to be kept) ...

`exchange` is the SDK-specific side: the request body, how to change its model, and how
to replay a stored answer as the SDK's own object and re-send the call elsewhere. The
Stainless SDKs (openai, anthropic) have `stainless.StainlessExchange`, Google Gen AI
`google_genai.exchange.GeminiExchange` (patched at its API client's request methods, whose
answers are JSON text). An exchange may also say which fallback targets it `reaches`
(others are skipped). SDKs patched at their own methods (Bedrock, Mistral, Cohere) hand
over their arguments instead, with a `ModelSetter`:

    args, kwargs = send_arguments(call, args, kwargs, set_model_keyword)   # or asend_arguments
    result = call.send(wrapped, args, kwargs)

They get routing rules and the budget guard; the cache and fallbacks need an exchange
that can replay an answer and re-send a call.

In order: routing rules may change the model; the budget guard may refuse the call (its
error is raised into the app, the span ended with it) or degrade it (the routing file's
budget rules, else the budget's fallback model); the cache may answer it. Any other
failure of these is logged and the call goes ahead unchanged. After a provider error,
the routing file's fallbacks re-send the call, each attempt its own span.

When none of routing, the guard and the cache is set up (the usual case), the hook costs
a few global reads, and for the SDKs with an exchange the look for a per-call cache directive.
"""
from __future__ import annotations

import json
import os
import time
from contextvars import ContextVar
from typing import Any, Callable

from .. import budget
from . import attributes as attr
from . import cache as response_cache
from . import routing
from .cache.keys import is_complete, stream_finished, stream_refused
from .call import GenAICall
from .safety import report_internal_error
from .usage import Usage

CACHE_HIT = "llmledger.cache.hit"
CACHE_KIND = "llmledger.cache.kind"
CACHE_SOURCE_TRACE_ID = "llmledger.cache.source_trace_id"
CACHE_SOURCE_SPAN_ID = "llmledger.cache.source_span_id"
CACHE_SIMILARITY = "llmledger.cache.similarity"
CACHE_AGE = "llmledger.cache.age_seconds"
ROUTING_REQUESTED_MODEL = "llmledger.routing.requested_model"
ROUTING_REQUESTED_PROVIDER = "llmledger.routing.requested_provider"
ROUTING_KIND = "llmledger.routing.kind"
ROUTING_REASON = "llmledger.routing.reason"

# (args, kwargs, model) -> (args, kwargs) asking for `model` instead.
ModelSetter = Callable[[tuple, dict, str], "tuple[tuple, dict]"]

# Set while a fallback re-sends a call: (requested model, requested provider, reason).
_falling_back: ContextVar[tuple[str, str, str] | None] = ContextVar("llmledger_fallback", default=None)


class CallPlan:
    """What the hook decided for one call."""

    __slots__ = ("call", "exchange", "facts", "hit", "replayed", "recorder")

    def __init__(self, call: GenAICall, exchange: Any):
        self.call = call
        self.exchange = exchange
        self.facts = None
        self.hit = False
        self.replayed: Any = None
        self.recorder: Recorder | None = None

    def can_fall_back(self, error: BaseException) -> bool:
        return self._targets(error) is not None

    def fall_back(self, error: BaseException) -> Any:
        rule, targets = self._targets(error)
        last = error
        for target in targets:
            token = self._enter_fallback(rule, error)
            try:
                return self.exchange.send_elsewhere(target.model, target.base_url, _api_key(target))
            except Exception as exc:
                last = exc
            finally:
                _falling_back.reset(token)
        raise last

    async def afall_back(self, error: BaseException) -> Any:
        rule, targets = self._targets(error)
        last = error
        for target in targets:
            token = self._enter_fallback(rule, error)
            try:
                return await self.exchange.asend_elsewhere(target.model, target.base_url, _api_key(target))
            except Exception as exc:
                last = exc
            finally:
                _falling_back.reset(token)
        raise last

    def _targets(self, error: BaseException):
        if _falling_back.get() is not None or not isinstance(error, Exception) \
                or not hasattr(self.exchange, "send_elsewhere"):
            return None
        router = routing.active_router()
        if router is None or not router.fallbacks:
            return None
        try:
            found = router.fallback_for(self._facts(), error)
            reaches = getattr(self.exchange, "reaches", None)
            if found is not None and reaches is not None:
                targets = tuple(target for target in found[1] if reaches(target))
                found = (found[0], targets) if targets else None
            return found
        except Exception:
            report_internal_error("choosing a fallback")
            return None

    def _enter_fallback(self, rule, error: BaseException):
        attributes = self.call.start_attributes
        requested = attributes.get(ROUTING_REQUESTED_MODEL) or attributes.get(attr.REQUEST_MODEL, "")
        reason = f"fallback {rule.name} after {routing.error_label(error)}"
        return _falling_back.set((str(requested), str(attributes.get(attr.PROVIDER_NAME, "")), reason))

    def _facts(self):
        if self.facts is None:
            self.facts = routing.facts_of(self.exchange.body, self.call.start_attributes, _resource(self.call))
        return self.facts


# The plan of a call that nothing was set up for: shared, never changed.
NOTHING = CallPlan(None, None)


class Recorder:
    """Keeps a whole answer of a call that missed the cache, as the provider sent it."""

    __slots__ = ("cache", "lookup", "exchange", "events", "wants_usage_chunk", "refused", "done")

    def __init__(self, cache, lookup, exchange):
        self.cache = cache
        self.lookup = lookup
        self.exchange = exchange
        self.events: list[dict] = []
        options = exchange.body.get("stream_options") if isinstance(exchange.body, dict) else None
        self.wants_usage_chunk = bool(isinstance(options, dict) and options.get("include_usage"))
        self.refused = False
        self.done = False

    def reading(self, read_result: Callable) -> Callable:
        """`read_result(call, result)` that also keeps the result."""
        def read_and_keep(call: GenAICall, result: Any) -> None:
            read_result(call, result)
            self.result(call, result)

        return read_and_keep

    def result(self, call: GenAICall, result: Any) -> None:
        try:
            payload = self.exchange.payload(result)
            if payload is not None and not call.error_type and is_complete(payload):
                body = json_bytes(payload)
                self._store(call, body, "application/json")
        except Exception:
            report_internal_error("keeping an answer in the cache")

    def chunks(self, on_chunk: Callable) -> Callable:
        """A stream's `on_chunk` that also keeps the events the app sees, stored once the answer is whole."""
        def read_and_keep(call: GenAICall, chunk: Any) -> bool:
            hidden = on_chunk(call, chunk)
            if self.done:
                return hidden
            try:
                event = self.exchange.payload(chunk) or {}
                self.refused = self.refused or stream_refused(event)
                if not hidden:
                    self.events.append(event)
                if stream_finished(event, self.wants_usage_chunk):
                    self.done = True
                    if not self.refused and not call.error_type:
                        self._store(call, self.exchange.encode_stream(self.events), "text/event-stream")
            except Exception:
                report_internal_error("keeping a streamed answer in the cache")
            return hidden

        return read_and_keep

    def _store(self, call: GenAICall, body: bytes, content_type: str) -> None:
        context = call.span.get_span_context()
        usage = call.usage
        entry = response_cache.CachedResponse(
            body=body, content_type=content_type,
            usage={k: v for k, v in _usage_fields(usage).items() if v is not None},
            response_id=call.response_id, response_model=call.response_model,
            finish_reasons=list(call.finish_reasons or ()),
            source_trace_id=format(context.trace_id, "032x"), source_span_id=format(context.span_id, "016x"))
        self.cache.store(self.lookup, entry)


def _unrouted_and_unguarded() -> bool:
    """No router (a fallback needs one either) and no budget guard: all that the SDKs patched
    at their methods could get."""
    return routing.active_router() is None and budget.active_guard() is None


def _nothing_set_up() -> bool:
    """Unrouted, unguarded, and the cache neither on nor asked for by a `cache.scope`.
    (`_unrouted_and_unguarded` spelled out: this runs for every call.)"""
    if routing.active_router() is not None or budget.active_guard() is not None:
        return False
    cache = response_cache.active_cache()
    return cache is None or (not cache.settings.enabled and response_cache.current_directive.get() is None)


def _plan(call: GenAICall, exchange: Any):
    """(the call's plan, its own cache directive). The plan is the shared NOTHING, to be
    returned as it is, when nothing is set up and the call does not ask for the cache.

    The call's own directive is taken off the request first (None for an exchange that
    cannot replay, or if it cannot be read), whatever is set up."""
    own = None
    if exchange.can_replay:
        try:
            own = exchange.take_directive()
        except Exception:
            report_internal_error("removing a cache directive")
    if (own is None or own.mode in (None, "off")) and _nothing_set_up():
        return NOTHING, None
    return CallPlan(call, exchange), own


def before_send(call: GenAICall, exchange: Any) -> CallPlan:
    plan, own = _plan(call, exchange)
    if plan is NOTHING:
        return plan
    _route(plan)
    if budget.active_guard() is not None:
        try:
            degraded = budget.check_before_call(call.start_attributes, _resource(call))
        except (budget.BudgetExceededError, budget.BudgetServiceUnavailableError) as refusal:
            call.fail(refusal)
            raise
        except Exception:
            report_internal_error("checking the budget")
            degraded = None
        _degrade(plan, degraded)
    lookup = _look_up(plan, own)
    if lookup is not None and plan.hit:
        try:
            plan.replayed = exchange.replay(lookup.hit)
        except Exception:
            report_internal_error("replaying a cached answer")
            plan.hit = False
            return plan
        _end_as_hit(call, lookup)
    return plan


async def abefore_send(call: GenAICall, exchange: Any) -> CallPlan:
    plan, own = _plan(call, exchange)
    if plan is NOTHING:
        return plan
    _route(plan)
    if budget.active_guard() is not None:
        try:
            degraded = await budget.acheck_before_call(call.start_attributes, _resource(call))
        except (budget.BudgetExceededError, budget.BudgetServiceUnavailableError) as refusal:
            call.fail(refusal)
            raise
        except Exception:
            report_internal_error("checking the budget")
            degraded = None
        _degrade(plan, degraded)
    lookup = _look_up(plan, own)
    if lookup is not None and plan.hit:
        try:
            plan.replayed = await exchange.areplay(lookup.hit)
        except Exception:
            report_internal_error("replaying a cached answer")
            plan.hit = False
            return plan
        _end_as_hit(call, lookup)
    return plan


# --- SDKs patched at their methods ------------------------------------------------------------


class ArgumentsExchange:
    """A call of an SDK patched at its own method: its arguments, rewritten through the SDK's
    `ModelSetter`. `body` is what routing rules read (messages, contents, ...): the request
    dict when the SDK takes one, else the keyword arguments."""

    can_replay = False

    def __init__(self, args: tuple, kwargs: dict, set_model: ModelSetter, body: dict | None = None):
        self.args, self.kwargs = args, kwargs
        self._set_model = set_model
        self.body = body if isinstance(body, dict) else kwargs

    def set_model(self, model: str) -> None:
        self.args, self.kwargs = self._set_model(self.args, self.kwargs, model)


def set_model_keyword(args: tuple, kwargs: dict, model: str) -> tuple[tuple, dict]:
    """For SDK methods called as `method(model=..., ...)`."""
    return args, {**kwargs, "model": model}


def send_arguments(call: GenAICall, args: tuple, kwargs: dict, set_model: ModelSetter,
                   body: dict | None = None) -> tuple[tuple, dict]:
    """`before_send` for SDKs patched at their methods: the arguments to send."""
    if _unrouted_and_unguarded():
        return args, kwargs
    exchange = ArgumentsExchange(args, kwargs, set_model, body)
    before_send(call, exchange)
    return exchange.args, exchange.kwargs


async def asend_arguments(call: GenAICall, args: tuple, kwargs: dict, set_model: ModelSetter,
                          body: dict | None = None) -> tuple[tuple, dict]:
    if _unrouted_and_unguarded():
        return args, kwargs
    exchange = ArgumentsExchange(args, kwargs, set_model, body)
    await abefore_send(call, exchange)
    return exchange.args, exchange.kwargs


# --- routing -------------------------------------------------------------------------------


def _route(plan: CallPlan) -> None:
    try:
        fallback = _falling_back.get()
        if fallback is not None:  # a fallback's own call: already sent where the rule said
            requested, provider, reason = fallback
            _record_route(plan.call, requested, "fallback", reason, provider)
            return
        router = routing.active_router()
        if router is None or not router.routes:
            return
        decision = router.route(plan._facts())
        if decision is not None:
            _switch_model(plan, decision)
    except Exception:
        report_internal_error("routing a call")


def _degrade(plan: CallPlan, budget_model: str | None) -> None:
    if not budget_model:
        return
    try:
        router = routing.active_router()
        decision = router.on_budget(plan._facts(), budget_model) if router is not None else \
            routing.Decision(budget_model, "budget", "budget fallback_model")
        _switch_model(plan, decision)
    except Exception:
        report_internal_error("degrading a call for its budget")


def _switch_model(plan: CallPlan, decision) -> None:
    call = plan.call
    attributes = call.start_attributes
    current = attributes.get(attr.REQUEST_MODEL)
    if decision.model == current:
        return
    requested = attributes.get(ROUTING_REQUESTED_MODEL) or current or ""
    plan.exchange.set_model(decision.model)
    attributes[attr.REQUEST_MODEL] = decision.model
    call.set_attribute(attr.REQUEST_MODEL, decision.model)
    call.span.update_name(f"{attributes[attr.OPERATION_NAME]} {decision.model}")
    _record_route(call, requested, decision.kind, decision.reason)
    if plan.facts is not None:
        plan.facts.labels["model"] = decision.model


def _record_route(call: GenAICall, requested: str, kind: str, reason: str, provider: str = "") -> None:
    call.start_attributes[ROUTING_REQUESTED_MODEL] = requested
    call.set_attribute(ROUTING_REQUESTED_MODEL, requested)
    call.set_attribute(ROUTING_KIND, kind)
    call.set_attribute(ROUTING_REASON, reason)
    if provider and provider != call.start_attributes.get(attr.PROVIDER_NAME):
        call.set_attribute(ROUTING_REQUESTED_PROVIDER, provider)


# --- the cache -----------------------------------------------------------------------------


def _look_up(plan: CallPlan, own):
    """The cache's lookup for the call (`own`: its own directive, already taken off it)."""
    exchange, call = plan.exchange, plan.call
    if not exchange.can_replay:
        return None
    try:
        cache = response_cache.active_cache()
        if cache is None:
            return None
        scoped = response_cache.current_directive.get()
        directive = own.over(scoped) if own is not None else scoped
        body = exchange.body
        if not isinstance(body, dict):
            return None
        lookup = cache.prepare(provider=exchange.provider, endpoint=exchange.endpoint, body=body,
                               attributes=call.start_attributes, resource=_resource(call), directive=directive)
        if lookup is None:
            return None
        if cache.find(lookup):
            plan.hit = True
        else:
            plan.recorder = Recorder(cache, lookup, exchange)
        return lookup
    except Exception:
        report_internal_error("looking an answer up in the cache")
        return None


def _end_as_hit(call: GenAICall, lookup) -> None:
    entry = lookup.hit
    call.set_attribute(CACHE_HIT, True)
    call.set_attribute(CACHE_KIND, lookup.hit_kind)
    call.set_attribute(CACHE_SOURCE_TRACE_ID, entry.source_trace_id)
    call.set_attribute(CACHE_SOURCE_SPAN_ID, entry.source_span_id)
    call.set_attribute(CACHE_AGE, max(0.0, round(time.time() - entry.stored_at, 3)))
    if lookup.similarity is not None:
        call.set_attribute(CACHE_SIMILARITY, round(lookup.similarity, 4))
    call.response_id = entry.response_id
    call.response_model = entry.response_model
    call.finish_reasons = tuple(entry.finish_reasons) or None
    call.usage = Usage(**entry.usage) if entry.usage else None
    call.end()


def _usage_fields(usage: Usage | None) -> dict:
    if usage is None:
        return {}
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens, "cache_write_tokens": usage.cache_write_tokens,
            "reasoning_tokens": usage.reasoning_tokens}


def _resource(call: GenAICall) -> Any:
    """The attributes of the resource the call's span belongs to: its service name and
    environment stand in for the call's app and environment when it names none."""
    resource = getattr(call.span, "resource", None)
    return resource.attributes if resource is not None else None


def _api_key(target) -> str | None:
    return os.environ.get(target.api_key_env) if target.api_key_env else None


def json_bytes(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
