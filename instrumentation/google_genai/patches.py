"""The Google Gen AI patches: the API client's four request methods.

Every model call of the SDK goes through `BaseApiClient.request` / `request_streamed` /
`async_request` / `async_request_streamed` with the HTTP method, the resource path
(`models/gemini-2.5-flash:generateContent`, `publishers/google/models/...:
streamGenerateContent?alt=sse` on Vertex AI) and the JSON body, whichever way the app
called it: `models.*`, `chats`, automatic function calling and continuation (one span
per HTTP call, so per billed call), Gemini API or Vertex AI. Patching there sees all of
them and costs a string split for the requests that are not model calls.

What comes back is the response's JSON text (`SdkHttpResponse.body`), read by `readers`;
a stream is a generator of such responses, handed to the `_genai` stream proxies.
`request_streamed` is a generator function: its HTTP request is only sent when the
first chunk is asked for, so errors of a streamed call surface while iterating — except
when the routing file has fallbacks: the patch then reads the first chunk itself, so
that a provider error can be answered by a fallback.

Each call goes through the shared hook with a `GeminiExchange` (see `exchange`): routing,
the budget guard, the response cache (a hit is replayed as the responses the SDK would
have got) and the routing file's fallbacks.
"""
from __future__ import annotations

from typing import Any, Callable

from .._genai import AsyncStreamProxy, GenAICall, Telemetry, report_internal_error, sync_stream
from .._genai import attributes as attr
from .._genai.server import server_of
from .._genai.hook import NOTHING, Recorder, abefore_send, before_send
from .._genai.routing import active_router
from . import readers
from .exchange import GeminiExchange, http_option, http_options_of, model_of, request_dict_of, split_path

# API method (after the ":" of the path) -> (operation, streamed).
_METHODS = {
    "generateContent": (attr.OPERATION_GENERATE_CONTENT, False),
    "streamGenerateContent": (attr.OPERATION_GENERATE_CONTENT, True),
    "embedContent": (attr.OPERATION_EMBEDDINGS, False),
    "batchEmbedContents": (attr.OPERATION_EMBEDDINGS, False),
    # Vertex AI's embeddings; `predict` also serves image models, which are not traced.
    "predict": (attr.OPERATION_EMBEDDINGS, False),
}


class RequestPatches:
    """The wrappers for the request methods, bound to one instrumentor's telemetry."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.enabled = True  # False when another instrumentation traces these calls
        # Run once by the first traced request (see the instrumentor).
        self.check_at_first_call: Callable[[], None] | None = None

    # --- the wrappers -------------------------------------------------------

    def traced_request(self, wrapped, instance, args, kwargs):
        call = self._start(instance, args, kwargs, streamed=False)
        if call is None:
            return wrapped(*args, **kwargs)
        exchange = GeminiExchange(instance, args, kwargs, call.start_attributes[attr.PROVIDER_NAME], False)
        plan = before_send(call, exchange)
        if plan.hit:
            return plan.replayed
        try:
            response = call.send(wrapped, exchange.args, exchange.kwargs)
        except Exception as exc:
            if plan.can_fall_back(exc):
                return plan.fall_back(exc)
            raise
        self._finish(call, response, plan.recorder)
        return response

    async def traced_async_request(self, wrapped, instance, args, kwargs):
        call = self._start(instance, args, kwargs, streamed=False)
        if call is None:
            return await wrapped(*args, **kwargs)
        exchange = GeminiExchange(instance, args, kwargs, call.start_attributes[attr.PROVIDER_NAME], False)
        plan = await abefore_send(call, exchange)
        if plan.hit:
            return plan.replayed
        try:
            response = await call.asend(wrapped, exchange.args, exchange.kwargs)
        except Exception as exc:
            if plan.can_fall_back(exc):
                return await plan.afall_back(exc)
            raise
        self._finish(call, response, plan.recorder)
        return response

    def traced_request_streamed(self, wrapped, instance, args, kwargs):
        call = self._start(instance, args, kwargs, streamed=True)
        if call is None:
            return wrapped(*args, **kwargs)
        exchange = GeminiExchange(instance, args, kwargs, call.start_attributes[attr.PROVIDER_NAME], True)
        plan = before_send(call, exchange)
        if plan.hit:
            return plan.replayed
        try:
            chunks = wrapped(*exchange.args, **exchange.kwargs)  # a generator: nothing is sent yet
        except BaseException as exc:
            call.fail(exc)
            raise
        if plan is not NOTHING and _has_fallbacks():
            # Send the request now, so that a provider error can fall back. The SDK's own
            # generator reads the first chunk right after this call returns anyway.
            try:
                chunks = _first_read(call, chunks)
            except Exception as exc:
                if plan.can_fall_back(exc):
                    return plan.fall_back(exc)
                raise
        return sync_stream(chunks, call, _stream_reader(call, plan.recorder))

    async def traced_async_request_streamed(self, wrapped, instance, args, kwargs):
        call = self._start(instance, args, kwargs, streamed=True)
        if call is None:
            return await wrapped(*args, **kwargs)
        exchange = GeminiExchange(instance, args, kwargs, call.start_attributes[attr.PROVIDER_NAME], True)
        plan = await abefore_send(call, exchange)
        if plan.hit:
            return plan.replayed
        try:
            chunks = await call.asend(wrapped, exchange.args, exchange.kwargs)  # the request is sent
        except Exception as exc:
            if plan.can_fall_back(exc):
                return await plan.afall_back(exc)
            raise
        return AsyncStreamProxy(chunks, call, _stream_reader(call, plan.recorder))

    # --- before the request -------------------------------------------------

    def _start(self, client: Any, args: tuple, kwargs: dict, streamed: bool) -> GenAICall | None:
        """Start the call's span, or None when this request is not a model call we trace."""
        try:
            if self.check_at_first_call is not None:
                check, self.check_at_first_call = self.check_at_first_call, None
                check()
            path = args[1] if len(args) > 1 else kwargs["path"]
            resource, method, _ = split_path(path)
            known = _METHODS.get(method)
            if known is None or known[1] != streamed or not self.enabled:
                return None
            model = model_of(resource)
            if method == "predict" and "embedding" not in model:
                return None
            body = request_dict_of(args, kwargs)
            address, port, provider = self._server(client, args, kwargs)
            attributes = {
                attr.OPERATION_NAME: known[0],
                attr.PROVIDER_NAME: provider,
                attr.SERVER_ADDRESS: address,
                attr.SERVER_PORT: port,
                attr.REQUEST_MODEL: model,
            }
            if known[0] == attr.OPERATION_GENERATE_CONTENT:
                attributes[attr.REQUEST_STREAM] = streamed
                if isinstance(body, dict):
                    readers.add_request_attributes(attributes, body)
            call = self.telemetry.start_call(attributes)
            if call.capture_content and isinstance(body, dict):
                messages, system = readers.input_messages(body)
                call.capture_input(messages)
                call.capture_input(system, attr.SYSTEM_INSTRUCTIONS)
            return call
        except Exception:
            report_internal_error("starting a Google Gen AI span")
            return None

    @staticmethod
    def _server(client: Any, args: tuple, kwargs: dict) -> tuple[str, int, str]:
        """(server.address, server.port, provider) of a request: the client's base URL, or
        the one the request's own `http_options` give (a fallback's)."""
        base_url = http_option(http_options_of(args, kwargs), "base_url")
        address, port = server_of(base_url or client._http_options.base_url or "")
        return address, port, "gcp.vertex_ai" if client.vertexai else "gcp.gemini"

    # --- after the request --------------------------------------------------

    @staticmethod
    def _finish(call: GenAICall, response: Any, recorder: Recorder | None) -> None:
        try:
            if recorder is None:
                readers.read_body(call, getattr(response, "body", None))
            else:
                recorder.reading(_read_response)(call, response)
        except Exception:
            report_internal_error("reading a Google Gen AI response")
        call.end()


def _read_response(call: GenAICall, response: Any) -> None:
    readers.read_body(call, getattr(response, "body", None))


def _stream_reader(call: GenAICall, recorder: Recorder | None):
    if recorder is None:
        return readers.StreamReader(call.capture_content)
    return recorder.chunks(readers.StreamReader(call.capture_content, read_each=True))


def _has_fallbacks() -> bool:
    router = active_router()
    return router is not None and bool(router.fallbacks)


_END = object()


def _first_read(call: GenAICall, chunks):
    """`chunks` (a generator of the SDK that sends its request on the first `next`), that
    first chunk read now with the call's span current; a provider error is raised here."""
    first = call.send(next, (chunks, _END), {})
    if first is _END:
        return chunks
    return _resumed(first, chunks)


def _resumed(first: Any, chunks):
    yield first
    yield from chunks
