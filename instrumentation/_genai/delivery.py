"""Say once, in plain words, when the spans the instrumentation makes go nowhere.

An app can be traced for nothing in three ways, and nothing else would say so
(the launcher is silent, and an exporter logs a cryptic line per failed batch).
Each gets one warning on the `llmledger.instrumentation` logger, once per process:

- no SDK set up: at the first LLM call the tracer provider is still the API's
  no-op one (the launcher ran without a configurator: opentelemetry-distro is not
  installed, or `OTEL_PYTHON_CONFIGURATOR` names none; or the app never set one);
- the traces exporter is off: `OTEL_TRACES_EXPORTER=none`;
- the endpoint refuses: an OTLP span exporter's `export()` reports a failure
  (nothing listening, 404, 401, …). `watch_exports()` wraps the exporter classes
  already imported (the launcher imports the chosen one before instrumentors
  load); `check_setup` runs it again at the first call for SDKs set up later.

`check_setup(tracer_provider)` is called by `Telemetry` at its first call, with
the provider passed to `instrument()` (None: the global one).
"""
from __future__ import annotations

import logging
import os
import sys

from opentelemetry import trace

from .patching import wrap

logger = logging.getLogger("llmledger.instrumentation")

TRACES_EXPORTER_ENV = "OTEL_TRACES_EXPORTER"

# The OTLP span exporters, by module: gRPC and HTTP/protobuf.
_SPAN_EXPORTERS = (
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
)

_warned: set[str] = set()
_watched: set[str] = set()


def _warn_once(kind: str, message: str, *args) -> None:
    if kind not in _warned:
        _warned.add(kind)
        logger.warning(message, *args)


def check_setup(tracer_provider: trace.TracerProvider | None) -> None:
    watch_exports()
    if tracer_provider is not None:
        return  # given to instrument() explicitly: the app set up its own pipeline
    provider = trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        _warn_once(
            "no-sdk",
            "llmledger: no OpenTelemetry SDK is set up, so LLM calls are not traced. Under "
            "opentelemetry-instrument, install opentelemetry-distro (llmledger-instrumentation brings it) "
            "or name a configurator in OTEL_PYTHON_CONFIGURATOR; in code, set a TracerProvider first.",
        )
    elif (os.environ.get(TRACES_EXPORTER_ENV) or "").strip().lower() == "none":
        _warn_once(
            "traces-off",
            "llmledger: %s=none, so LLM spans are made but none leaves the app and no cost is recorded. "
            "Unset it (the distro's default is otlp) to send them.",
            TRACES_EXPORTER_ENV,
        )


def watch_exports() -> None:
    for module in _SPAN_EXPORTERS:
        if module in sys.modules and module not in _watched:
            if wrap(module, "OTLPSpanExporter.export", _export_watched):
                _watched.add(module)


def _export_watched(export, exporter, args, kwargs):
    result = export(*args, **kwargs)
    try:
        if getattr(result, "name", "") == "FAILURE":
            _warn_once(
                "refused",
                "llmledger: LLM spans could not be delivered to %s (the exporter's own log says why); "
                "their costs are not recorded while it refuses. Is llmledger serve, or your collector, "
                "listening there? This warning is not repeated.",
                getattr(exporter, "_endpoint", None) or "the OTLP endpoint",
            )
    except Exception:
        pass  # a warning is never worth breaking an export
    return result
