"""Wrappers for the public methods of SDKs whose low-level send only sees raw HTTP.

The OpenAI, Anthropic, Google Gen AI and Bedrock patches sit on each SDK's one request
method, which sees the parsed request and the parsed answer. The generated SDKs of
Mistral (Speakeasy) and Cohere (Fern) parse streamed answers only above their send
method, so they are patched at each traced method instead; this module is what those
patches share:

    patches = MethodPatches(telemetry, start_attributes, capture_input)
    wrap("mistralai.client.chat", "Chat.complete", patches.sync(CHAT))
    wrap("mistralai.client.chat", "Chat.complete_async", patches.coroutine(CHAT))
    wrap("cohere.v2.client", "AsyncV2Client.chat_stream", patches.async_generator(CHAT_STREAM))

`start_attributes(endpoint, instance, kwargs) -> dict | None` gives the span's start
attributes (None: not traced); the `Endpoint` says what the method does and how to
read its result. Every wrapper passes
the call through the shared hook (`hook.send_arguments`) with the model as the `model=`
keyword, makes the span current while the SDK sends, and ends it exactly once: at
once for a whole answer, through the stream proxies for a stream.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .call import GenAICall, Telemetry
from .hook import asend_arguments, send_arguments, set_model_keyword
from .patching import foreign_wrapper, wrap
from .safety import report_internal_error
from .streams import AsyncStreamProxy, ChunkHandler, sync_stream


def wrap_methods(targets: Iterable[tuple[str, str, Callable]]) -> tuple[tuple[str, str], ...]:
    """Apply `(module, "Class.method", wrapper)` patches and return the (module, target)
    pairs applied. A method another instrumentation already wrapped is left to it, with a
    warning naming it, so that no call is counted twice."""
    applied = []
    for module, target, wrapper in targets:
        other = foreign_wrapper(module, target)
        if other is not None:
            logging.getLogger("llmledger.instrumentation").warning(
                "llmledger: %s is already tracing %s.%s; llmledger leaves those calls to it so that they are not "
                "counted twice. Uninstrument one of the two to silence this.", other, module, target)
        elif wrap(module, target, wrapper):
            applied.append((module, target))
    return tuple(applied)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What a traced method returns and how to read it."""

    name: str  # for error messages: "Mistral chat"
    operation: str  # gen_ai.operation.name
    streamed: bool = False
    read_result: Callable[[GenAICall, Any], None] | None = None  # a whole answer
    stream_reader: Callable[[bool], ChunkHandler] | None = None  # (capture_content) -> on_chunk, for streams


class MethodPatches:
    def __init__(self, telemetry: Telemetry, start_attributes: Callable[[Endpoint, Any, dict], dict | None],
                 capture_input: Callable[[GenAICall, dict], None]):
        self.telemetry = telemetry
        self.start_attributes = start_attributes
        self.capture_input = capture_input

    def sync(self, endpoint: Endpoint) -> Callable:
        def traced(wrapped, instance, args, kwargs):
            call = self._start(endpoint, instance, kwargs)
            if call is None:
                return wrapped(*args, **kwargs)
            args, kwargs = send_arguments(call, args, kwargs, set_model_keyword)
            result = call.send(wrapped, args, kwargs)
            return self._finish(endpoint, call, result)

        return traced

    def coroutine(self, endpoint: Endpoint) -> Callable:
        async def traced(wrapped, instance, args, kwargs):
            call = self._start(endpoint, instance, kwargs)
            if call is None:
                return await wrapped(*args, **kwargs)
            args, kwargs = await asend_arguments(call, args, kwargs, set_model_keyword)
            result = await call.asend(wrapped, args, kwargs)
            return self._finish(endpoint, call, result)

        return traced

    def async_generator(self, endpoint: Endpoint) -> Callable:
        """For `async def ...: yield` methods: the app iterates the call without awaiting
        it, so the hook runs when the first item is asked for."""
        def traced(wrapped, instance, args, kwargs):
            call = self._start(endpoint, instance, kwargs)
            if call is None:
                return wrapped(*args, **kwargs)

            async def checked_then_sent():
                checked_args, checked_kwargs = await asend_arguments(call, args, kwargs, set_model_keyword)
                items = wrapped(*checked_args, **checked_kwargs)
                try:
                    async for item in items:
                        yield item
                finally:  # closed here, in the app's task, not later by the collector
                    await items.aclose()

            return AsyncStreamProxy(checked_then_sent(), call, endpoint.stream_reader(call.capture_content))

        return traced

    def _start(self, endpoint: Endpoint, instance: Any, kwargs: dict) -> GenAICall | None:
        try:
            attributes = self.start_attributes(endpoint, instance, kwargs)
            if attributes is None:
                return None
            call = self.telemetry.start_call(attributes)
            if call.capture_content:
                self.capture_input(call, kwargs)
            return call
        except Exception:
            report_internal_error(f"starting a {endpoint.name} span")
            return None

    @staticmethod
    def _finish(endpoint: Endpoint, call: GenAICall, result: Any) -> Any:
        try:
            if endpoint.stream_reader is not None:
                on_chunk = endpoint.stream_reader(call.capture_content)
                if hasattr(result, "__anext__"):
                    return AsyncStreamProxy(result, call, on_chunk)
                return sync_stream(result, call, on_chunk)
            endpoint.read_result(call, result)
        except Exception:
            report_internal_error(f"reading a {endpoint.name} response")
        call.end()
        return result
