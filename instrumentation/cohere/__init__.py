"""Zero-code tracing of the `cohere` SDK's v2 API: GenAI spans and metrics for chat and embed.

    from llmledger.instrumentation.cohere import CohereInstrumentor
    CohereInstrumentor().instrument()          # or: opentelemetry-instrument python app.py

`instrument()` accepts the usual `tracer_provider=` and `meter_provider=`, and
`settings=` (a `llmledger.instrumentation._genai.Settings`) instead of reading the
environment.

Traced: `chat`, `chat_stream` and `embed` of `cohere.ClientV2` / `AsyncClientV2` (and
`client.v2`). Each call is one CLIENT span `chat {model}` / `embeddings {model}` with
provider `cohere`; tokens are the ones Cohere bills (`usage.billed_units`, see
`readers`). The v1 API (`cohere.Client().chat`) is not traced.

If another instrumentation (OpenLLMetry, ...) already patched these methods, llmledger
leaves the calls to it with a warning naming it.

`cohere` is not imported until `instrument()`.
"""
from __future__ import annotations

import logging
from typing import Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from .._genai import Telemetry, foreign_wrapper, report_internal_error, sdk_missing, unwrap, wrap

logger = logging.getLogger("llmledger.instrumentation")

SCOPE_NAME = "llmledger.instrumentation.cohere"


class CohereInstrumentor(BaseInstrumentor):
    _targets: tuple = ()  # the (module, target) pairs patched (BaseInstrumentor is a singleton)

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("cohere >= 5.0",)

    def _instrument(self, **kwargs) -> None:
        if sdk_missing(self):
            return
        try:
            self._patch(**kwargs)
        except Exception:  # never let instrumenting break the app's start
            report_internal_error("instrumenting the cohere SDK")

    def _patch(self, **kwargs) -> None:
        from .patches import targets

        patched = []
        for module, target, wrapper in targets(Telemetry.for_instrumentor(SCOPE_NAME, kwargs)):
            other = foreign_wrapper(module, target)
            if other is not None:
                logger.warning(
                    "llmledger: %s is already tracing %s.%s; llmledger leaves those calls to it so that they "
                    "are not counted twice. Uninstrument one of the two to silence this.", other, module, target)
                continue
            if wrap(module, target, wrapper):
                patched.append((module, target))
        self._targets = tuple(patched)

    def _uninstrument(self, **kwargs) -> None:
        for module, target in self._targets:
            unwrap(module, target)
        self._targets = ()
