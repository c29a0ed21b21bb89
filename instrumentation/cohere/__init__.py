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

A client binds its `chat` and `chat_stream` when it is created: a client made before
`instrument()` keeps the untraced ones (`opentelemetry-instrument` instruments before
the app's code runs, so zero-code apps are not affected).

If another instrumentation (OpenLLMetry, ...) already patched these methods, llmledger
leaves the calls to it with a warning naming it.

`cohere` is not imported until `instrument()`.
"""
from __future__ import annotations

from .._genai import GenAIInstrumentor, Telemetry, unwrap
from .._genai.methods import wrap_methods

SCOPE_NAME = "llmledger.instrumentation.cohere"


class CohereInstrumentor(GenAIInstrumentor):
    sdk = "cohere"
    supported = ">= 5.0, < 8"
    _targets: tuple = ()  # the (module, target) pairs patched (BaseInstrumentor is a singleton)

    def _patch(self, **kwargs) -> None:
        from .patches import targets

        self._targets = wrap_methods(targets(Telemetry.for_instrumentor(SCOPE_NAME, kwargs)))

    def _uninstrument(self, **kwargs) -> None:
        for module, target in self._targets:
            unwrap(module, target)
        self._targets = ()
