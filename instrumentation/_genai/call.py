"""Start and end the span (and metrics) of one LLM call.

    telemetry = Telemetry("llmledger.instrumentation.openai", tracer_provider, meter_provider, settings)
    call = telemetry.start_call({            # a fresh dict: it becomes the span's start attributes
        attr.OPERATION_NAME: "chat",
        attr.PROVIDER_NAME: "openai",
        attr.REQUEST_MODEL: "gpt-4o-mini",
        attr.SERVER_ADDRESS: "api.openai.com",
        attr.SERVER_PORT: 443,
        attr.REQUEST_STREAM: False,
    })
    result = call.send(wrapped, args, kwargs)  # the span is current while the SDK sends; an
                                             # exception ends it (error.type, status ERROR)
                                             # and reaches the app unchanged
    call.response_id = result.id             # then fill in what the response said
    call.response_model = result.model
    call.finish_reasons = ("stop",)
    call.usage = Usage(input_tokens=..., output_tokens=...)
    call.end()

The span is named `{operation} {model}` and is a CLIENT span; the attribution
attributes of the current context (`llmledger.instrumentation.attribution.
current_attributes()`) are added at start. `end()` and `fail()` are idempotent:
whichever comes first wins, so a stream can call them from every exit path.
They never raise: an internal error is logged (see `safety`).

`call.set_attribute(key, value)` adds any other attribute at the end (e.g. the
OpenAI service tier); `call.record_error(error_type, description)` marks a call
failed without ending it (an error event inside a stream); `call.capture_input(...)`/`capture_output(...)` record
message content only when the user opted in. `call.before_end` (a function of the call)
runs first thing in `end()`, for a stream reader that reads its chunks only then.
"""
from __future__ import annotations

import logging
from time import perf_counter
from typing import Any, Callable, Mapping

from opentelemetry import context as otel_context
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import attributes as attr
from . import delivery
from .content import to_json
from .metrics import GenAIMetrics
from .safety import report_internal_error
from .settings import Settings, SettingsError
from .usage import Usage

_CLIENT = SpanKind.CLIENT
_attach, _detach, _current = otel_context.attach, otel_context.detach, otel_context.get_current
_in_context = trace.set_span_in_context


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    # The instrumentation ships on its own, or inside the service's distribution.
    for distribution in ("llmledger-instrumentation", "llmledger"):
        try:
            return version(distribution)
        except PackageNotFoundError:
            continue
    return "0.0.0"


def _no_attribution(ctx: otel_context.Context | None = None) -> Mapping[str, str]:
    return {}


def _attribution_reader() -> Callable[[otel_context.Context], Mapping[str, str]]:
    """`attribution.current_attributes`, looked up when an instrumentor starts, not at
    import: the attribution module belongs to the package whose `__init__` may itself
    import this layer."""
    try:
        from ..attribution import current_attributes
    except ImportError:  # no attribution support: always empty
        return _no_attribution
    return current_attributes


class Telemetry:
    """The tracer, metric instruments and settings one instrumentor works with."""

    def __init__(
        self,
        scope_name: str,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: otel_metrics.MeterProvider | None = None,
        settings: Settings | None = None,
    ):
        version = _package_version()
        self.settings = settings if settings is not None else Settings()
        self.capture_content = self.settings.capture_content
        self.tracer_provider = tracer_provider
        self.tracer = trace.get_tracer(scope_name, version, tracer_provider)
        self._attribution = _attribution_reader()
        self._first_call = True
        self.metrics: GenAIMetrics | None = None
        if self.settings.record_metrics or meter_provider is not None:
            self.metrics = GenAIMetrics(otel_metrics.get_meter(scope_name, version, meter_provider))

    @classmethod
    def for_instrumentor(cls, scope_name: str, kwargs: Mapping[str, Any]) -> "Telemetry":
        """From a BaseInstrumentor's `instrument(**kwargs)`: the providers given, and the
        settings given or else from the environment (a bad variable is logged, defaults used)."""
        settings = kwargs.get("settings")
        if settings is None:
            try:
                settings = Settings.from_env()
            except SettingsError as exc:
                logging.getLogger(__name__).error("llmledger: %s; using the defaults", exc)
                settings = Settings()
        return cls(scope_name, kwargs.get("tracer_provider"), kwargs.get("meter_provider"), settings)

    def start_call(self, attributes: dict) -> "GenAICall":
        """Start the span of one call. `attributes` must hold at least the operation name."""
        if self._first_call:  # by now the app has set up its SDK, if it does at all
            self._first_call = False
            try:
                delivery.check_setup(self.tracer_provider)
            except Exception:
                report_internal_error("checking where spans go")
        # Read once: the attribution, the span's parent and the context it is sent in.
        context = _current()
        try:
            extra = self._attribution(context)
            if extra:
                attributes.update(extra)
        except Exception:
            report_internal_error("reading the attribution context")
        model = attributes.get(attr.REQUEST_MODEL)
        operation = attributes[attr.OPERATION_NAME]
        name = f"{operation} {model}" if model else operation
        span = self.tracer.start_span(name, context=context, kind=_CLIENT, attributes=attributes)
        return GenAICall(self, span, attributes, context)


class GenAICall:
    """One traced LLM call. Fill in the response fields, then `end()` (or `fail()`)."""

    __slots__ = (
        "telemetry", "span", "start_attributes", "parent_context", "capture_content", "started", "ended",
        "response_id", "response_model", "finish_reasons", "usage",
        "first_chunk_at", "error_type", "before_end", "_extra",
    )

    def __init__(self, telemetry: Telemetry, span: trace.Span, start_attributes: dict,
                 parent_context: otel_context.Context | None = None):
        self.telemetry = telemetry
        self.span = span
        self.start_attributes = start_attributes
        self.parent_context = parent_context  # the context current at start (None: read it when sending)
        self.capture_content: bool = telemetry.capture_content
        self.started = perf_counter()
        self.ended = False
        self.response_id: str | None = None
        self.response_model: str | None = None
        self.finish_reasons: tuple[str, ...] | None = None
        self.usage: Usage | None = None
        self.first_chunk_at: float | None = None
        self.error_type: str | None = None
        # Run first by `end()`, for a reader that puts off its work until then.
        self.before_end: Callable[["GenAICall"], None] | None = None
        self._extra: dict | None = None

    def set_attribute(self, key: str, value: Any) -> None:
        """Add an attribute to the span when it ends (None is ignored)."""
        if value is None:
            return
        if self._extra is None:
            self._extra = {}
        self._extra[key] = value

    def capture_input(self, messages: Any, key: str = attr.INPUT_MESSAGES) -> None:
        """Record the prompt as JSON, only if the user opted in to content capture."""
        settings = self.telemetry.settings
        if settings.capture_content and messages is not None:
            self.set_attribute(key, to_json(messages, settings.content_max_chars))

    def capture_output(self, messages: Any) -> None:
        """Record the answer as JSON, only if the user opted in to content capture."""
        self.capture_input(messages, attr.OUTPUT_MESSAGES)

    def mark_first_chunk(self) -> None:
        if self.first_chunk_at is None:
            self.first_chunk_at = perf_counter()

    def send(self, wrapped: Callable, args: tuple, kwargs: dict, context: otel_context.Context | None = None) -> Any:
        """`wrapped(*args, **kwargs)` with the span current (or `context`, made from it); an
        exception ends the call as failed and goes on to the app unchanged."""
        token = _attach(context if context is not None else _in_context(self.span, self.parent_context))
        try:
            return wrapped(*args, **kwargs)
        except BaseException as exc:
            self.fail(exc)
            raise
        finally:
            _detach(token)

    async def asend(self, wrapped: Callable, args: tuple, kwargs: dict,
                    context: otel_context.Context | None = None) -> Any:
        """`send` for a coroutine function: attached and detached in the awaiting task."""
        token = _attach(context if context is not None else _in_context(self.span, self.parent_context))
        try:
            return await wrapped(*args, **kwargs)
        except BaseException as exc:
            self.fail(exc)
            raise
        finally:
            _detach(token)

    def record_error(self, error_type: str, description: str | None = None) -> None:
        """Mark the call failed (error.type, status ERROR) without ending it yet,
        e.g. for an error event inside a stream."""
        if self.ended:
            return
        try:
            self.error_type = error_type
            self.span.set_status(Status(StatusCode.ERROR, (description or error_type)[:500]))
        except Exception:
            report_internal_error("recording a failed call")

    def fail(self, exc: BaseException) -> None:
        """End the span as failed by `exc` (the caller re-raises it)."""
        if self.ended:
            return
        try:
            self.record_error(type(exc).__qualname__, str(exc))
        except Exception:
            report_internal_error("recording a failed call")
        self.end()

    def end(self) -> None:
        if self.ended:
            return
        self.ended = True
        if self.before_end is not None:
            try:
                self.before_end(self)
            except Exception:
                report_internal_error("reading a GenAI response")
        span = self.span
        metrics = self.telemetry.metrics
        duration = perf_counter() - self.started if metrics is not None else None  # for metrics only
        usage = self.usage
        time_to_first_chunk = None
        try:
            attributes = self._extra if self._extra is not None else {}
            if self.response_id:
                attributes[attr.RESPONSE_ID] = self.response_id
            if self.response_model:
                attributes[attr.RESPONSE_MODEL] = self.response_model
            if self.finish_reasons:
                attributes[attr.RESPONSE_FINISH_REASONS] = self.finish_reasons
            if usage is not None:
                usage.add_attributes(attributes)
            if self.first_chunk_at is not None:
                time_to_first_chunk = self.first_chunk_at - self.started
                attributes[attr.RESPONSE_TIME_TO_FIRST_CHUNK] = time_to_first_chunk
            if self.error_type:
                attributes[attr.ERROR_TYPE] = self.error_type
            if attributes:
                span.set_attributes(attributes)
        except Exception:
            report_internal_error("ending a GenAI span")
        finally:
            span.end()
        if metrics is None:
            return
        try:
            metrics.record(
                self.start_attributes,
                self.response_model,
                self.error_type,
                duration,
                usage.input_tokens if usage is not None else None,
                usage.output_tokens if usage is not None else None,
                time_to_first_chunk,
            )
        except Exception:
            report_internal_error("recording GenAI metrics")
