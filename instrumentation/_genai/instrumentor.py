"""The base of every llmledger SDK instrumentor: start quietly, or say in one line why not.

    class OpenAIInstrumentor(GenAIInstrumentor):
        sdk = "openai"               # the SDK's distribution name
        supported = ">= 1.0, < 4"    # the versions its patches are written for

        def _patch(self, **kwargs): ...        # wrap the SDK (may import it)
        def _uninstrument(self, **kwargs): ...

`opentelemetry-instrument` checks an instrumentation's dependencies per
distribution (its `instruments` extra) and then tells each instrumentor to skip
its own check. One llmledger distribution carries an instrumentor per SDK, and an
app uses one or two of those SDKs, so each instrumentor checks its own SDK here,
whatever the launcher says:
- SDK not installed: skipped, logged at debug level only;
- installed at a version outside `supported`: one warning naming the supported
  range; the SDK's calls are not traced;
- patching fails anyway: logged once (see `safety`); the app starts regardless.
"""
from __future__ import annotations

import logging
from typing import Collection

from opentelemetry.instrumentation.dependencies import DependencyConflictError, get_dependency_conflicts
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from . import delivery
from .safety import report_internal_error

logger = logging.getLogger("llmledger.instrumentation")


class GenAIInstrumentor(BaseInstrumentor):
    sdk: str = ""
    supported: str = ""

    def instrumentation_dependencies(self) -> Collection[str]:
        return (f"{self.sdk} {self.supported}",)

    def instrument(self, **kwargs):
        if self._is_instrumented_by_opentelemetry:
            # Listed twice (both llmledger distributions installed, or a checkout on the path
            # beside an installed copy): the same instrumentor, already on.
            logger.debug("llmledger: the %s instrumentor is already on", self.sdk)
            return None
        kwargs.pop("skip_dep_check", None)
        raise_on_conflict = kwargs.pop("raise_exception_on_conflict", False)
        conflict = get_dependency_conflicts(self.instrumentation_dependencies())
        if conflict is not None:
            if raise_on_conflict:
                raise DependencyConflictError(conflict)
            if conflict.found:
                logger.warning("llmledger: %s is installed, but llmledger traces %s %s; its calls are not traced",
                               conflict.found, self.sdk, self.supported)
            else:
                logger.debug("llmledger: %s is not installed, its instrumentor is skipped", self.sdk)
            return None
        return super().instrument(skip_dep_check=True, **kwargs)

    def _instrument(self, **kwargs) -> None:
        try:
            delivery.watch_exports()
            self._patch(**kwargs)
        except Exception:  # never let instrumenting break the app's start
            report_internal_error(f"instrumenting the {self.sdk} SDK")

    def _patch(self, **kwargs) -> None:
        raise NotImplementedError
