"""Apply and remove wrapt patches, tolerating SDK versions and other instrumentors.

- `wrap(module, "Class.method", wrapper)` patches with `wrapt.wrap_function_wrapper`
  and returns False (debug log) when the target does not exist in the installed
  SDK version, instead of failing.
- `unwrap(module, "Class.method")` removes our patch again (no-op when absent).
- `foreign_wrapper(module, "Class.method")` names the instrumentation package
  that already wrapped a target with wrapt (the official OpenTelemetry
  instrumentations, OpenLLMetry, …), or returns None when the target is not
  wrapped or wrapped by llmledger itself. Use it to avoid counting a call twice.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any, Callable

import wrapt

try:  # wrapt 2: FunctionWrapper derives from BaseObjectProxy, not ObjectProxy
    from wrapt import BaseObjectProxy as _Proxy
except ImportError:  # wrapt 1
    from wrapt import ObjectProxy as _Proxy

logger = logging.getLogger("llmledger.instrumentation")

_OUR_PREFIX = "llmledger."

# Module prefix of another instrumentation's wrapper -> how to name it to the user.
KNOWN_INSTRUMENTATIONS = (
    ("opentelemetry.instrumentation.openai_v2", "the official OpenTelemetry OpenAI instrumentation "
     "(opentelemetry-instrumentation-openai-v2)"),
    ("opentelemetry.instrumentation.openai", "OpenLLMetry's OpenAI instrumentation "
     "(opentelemetry-instrumentation-openai)"),
    ("opentelemetry.instrumentation.anthropic", "OpenLLMetry's Anthropic instrumentation "
     "(opentelemetry-instrumentation-anthropic)"),
    ("openinference.instrumentation", "an OpenInference instrumentation"),
    ("openlit", "OpenLIT"),
    ("langfuse", "Langfuse's OpenAI integration"),
    ("opentelemetry.instrumentation.google_genai", "the official OpenTelemetry Google Gen AI instrumentation "
     "(opentelemetry-instrumentation-google-genai)"),
    ("opentelemetry.instrumentation.bedrock", "OpenLLMetry's Bedrock instrumentation "
     "(opentelemetry-instrumentation-bedrock)"),
    ("opentelemetry.instrumentation.botocore", "the OpenTelemetry botocore instrumentation's Bedrock extension"),
    ("opentelemetry.instrumentation.mistralai", "OpenLLMetry's Mistral instrumentation "
     "(opentelemetry-instrumentation-mistralai)"),
    ("opentelemetry.instrumentation.cohere", "OpenLLMetry's Cohere instrumentation "
     "(opentelemetry-instrumentation-cohere)"),
)


def _resolve(module: str, target: str) -> tuple[Any, str] | None:
    """The object holding `target`'s last part, and that part's name; None if missing."""
    try:
        owner: Any = importlib.import_module(module)
        *path, name = target.split(".")
        for part in path:
            owner = getattr(owner, part)
    except (ImportError, AttributeError):
        return None
    if not hasattr(owner, name):
        return None
    return owner, name


def _raw_attribute(owner: Any, name: str) -> Any:
    """The attribute as stored (not bound), looked up along a class's MRO."""
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if name in vars(klass):
                return vars(klass)[name]
    return getattr(owner, name, None)


def _wrapper_module(proxy: Any) -> str:
    wrapper = getattr(proxy, "_self_wrapper", None)
    wrapper = getattr(wrapper, "func", wrapper)  # functools.partial
    wrapper = getattr(wrapper, "__func__", wrapper)  # bound method
    return getattr(wrapper, "__module__", None) or type(wrapper).__module__ or ""


def foreign_wrapper(module: str, target: str) -> str | None:
    resolved = _resolve(module, target)
    if resolved is None:
        return None
    seen = _raw_attribute(*resolved)
    # Walk down nested wrappers: ours may sit on top of someone else's.
    while isinstance(seen, _Proxy):
        origin = _wrapper_module(seen)
        if not origin.startswith(_OUR_PREFIX):
            for prefix, label in KNOWN_INSTRUMENTATIONS:
                if origin == prefix or origin.startswith(prefix + "."):
                    return label
            return f"another instrumentation (module {origin or 'unknown'})"
        seen = getattr(seen, "__wrapped__", None)
    return None


def wrap(module: str, target: str, wrapper: Callable) -> bool:
    if _resolve(module, target) is None:
        logger.debug("llmledger: %s.%s not found in the installed SDK, not patched", module, target)
        return False
    wrapt.wrap_function_wrapper(module, target, wrapper)
    return True


def unwrap(module: str, target: str) -> None:
    resolved = _resolve(module, target)
    if resolved is None:
        return
    owner, name = resolved
    current = _raw_attribute(owner, name)
    if isinstance(current, _Proxy) and _wrapper_module(current).startswith(_OUR_PREFIX):
        setattr(owner, name, current.__wrapped__)
