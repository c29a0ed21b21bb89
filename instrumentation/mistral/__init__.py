"""Zero-code tracing of the `mistralai` SDK: GenAI spans and metrics for chat and embeddings.

    from llmledger.instrumentation.mistral import MistralInstrumentor
    MistralInstrumentor().instrument()         # or: opentelemetry-instrument python app.py

`instrument()` accepts the usual `tracer_provider=` and `meter_provider=`, and
`settings=` (a `llmledger.instrumentation._genai.Settings`) instead of reading the
environment.

Traced: `chat.complete`, `chat.stream`, `embeddings.create` and their `_async` forms
(and what is built on them, such as `chat.parse`). Each call is one CLIENT span
`chat {model}` / `embeddings {model}` with provider `mistral_ai`; cached prompt tokens
(`usage.prompt_tokens_details.cached_tokens`) are part of the input, as Mistral counts.

If another instrumentation (OpenLLMetry, ...) already patched these methods, llmledger
leaves the calls to it with a warning naming it.

`mistralai` is not imported until `instrument()`.
"""
from __future__ import annotations

from .._genai import GenAIInstrumentor, Telemetry, unwrap
from .._genai.methods import wrap_methods

SCOPE_NAME = "llmledger.instrumentation.mistral"

# Where the SDK keeps its resources: `mistralai.client` since 2.0, `mistralai` before.
_PACKAGES = ("mistralai.client", "mistralai")


class MistralInstrumentor(GenAIInstrumentor):
    sdk = "mistralai"
    supported = ">= 1.0, < 4"
    _targets: tuple = ()  # the (module, target) pairs patched (BaseInstrumentor is a singleton)

    def _patch(self, **kwargs) -> None:
        from .patches import targets

        self._targets = wrap_methods(targets(Telemetry.for_instrumentor(SCOPE_NAME, kwargs), _PACKAGES))

    def _uninstrument(self, **kwargs) -> None:
        for module, target in self._targets:
            unwrap(module, target)
        self._targets = ()
