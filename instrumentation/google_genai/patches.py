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
first chunk is asked for, so errors of a streamed call surface while iterating.
"""
from __future__ import annotations

from typing import Any, Callable

from .._genai import AsyncStreamProxy, GenAICall, Telemetry, report_internal_error, sync_stream
from .._genai import attributes as attr
from .._genai.server import server_of
from .._genai.hook import asend_arguments, send_arguments
from . import readers

# API method (after the ":" of the path) -> (operation, streamed).
_METHODS = {
    "generateContent": (attr.OPERATION_GENERATE_CONTENT, False),
    "streamGenerateContent": (attr.OPERATION_GENERATE_CONTENT, True),
    "embedContent": (attr.OPERATION_EMBEDDINGS, False),
    "batchEmbedContents": (attr.OPERATION_EMBEDDINGS, False),
    # Vertex AI's embeddings; `predict` also serves image models, which are not traced.
    "predict": (attr.OPERATION_EMBEDDINGS, False),
}


def split_path(path: str) -> tuple[str, str, str]:
    """(resource, API method, query) of a request path: `models/x:generateContent?alt=sse`."""
    head, _, query = path.partition("?")
    resource, _, method = head.rpartition(":")
    return resource, method, query


def model_of(resource: str) -> str:
    """The model a resource path names: `publishers/google/models/gemini-2.5-flash` ->
    `gemini-2.5-flash`; a tuned model or endpoint keeps its resource name."""
    _, found, model = resource.rpartition("models/")
    return model if found and model else resource


def _request_dict(args: tuple, kwargs: dict) -> dict | None:
    """The request body (`contents`, `systemInstruction`, ...) of `request(method, path, request_dict)`."""
    return args[2] if len(args) > 2 else kwargs.get("request_dict")


def set_path_model(args: tuple, kwargs: dict, model: str) -> tuple[tuple, dict]:
    """The hook's `ModelSetter`: the model is part of the request path."""
    path = args[1] if len(args) > 1 else kwargs["path"]
    resource, method, query = split_path(path)
    prefix = resource[: len(resource) - len(model_of(resource))]
    new_path = f"{prefix}{model.removeprefix('models/')}:{method}" + (f"?{query}" if query else "")
    if len(args) > 1:
        return (args[0], new_path, *args[2:]), kwargs
    return args, {**kwargs, "path": new_path}


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
        args, kwargs = send_arguments(call, args, kwargs, set_path_model, body=_request_dict(args, kwargs))
        response = call.send(wrapped, args, kwargs)
        self._finish(call, response)
        return response

    async def traced_async_request(self, wrapped, instance, args, kwargs):
        call = self._start(instance, args, kwargs, streamed=False)
        if call is None:
            return await wrapped(*args, **kwargs)
        args, kwargs = await asend_arguments(call, args, kwargs, set_path_model, body=_request_dict(args, kwargs))
        response = await call.asend(wrapped, args, kwargs)
        self._finish(call, response)
        return response

    def traced_request_streamed(self, wrapped, instance, args, kwargs):
        call = self._start(instance, args, kwargs, streamed=True)
        if call is None:
            return wrapped(*args, **kwargs)
        args, kwargs = send_arguments(call, args, kwargs, set_path_model, body=_request_dict(args, kwargs))
        try:
            chunks = wrapped(*args, **kwargs)  # a generator: nothing is sent yet
        except BaseException as exc:
            call.fail(exc)
            raise
        return sync_stream(chunks, call, readers.StreamReader(call.capture_content))

    async def traced_async_request_streamed(self, wrapped, instance, args, kwargs):
        call = self._start(instance, args, kwargs, streamed=True)
        if call is None:
            return await wrapped(*args, **kwargs)
        args, kwargs = await asend_arguments(call, args, kwargs, set_path_model, body=_request_dict(args, kwargs))
        chunks = await call.asend(wrapped, args, kwargs)
        return AsyncStreamProxy(chunks, call, readers.StreamReader(call.capture_content))

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
            body = _request_dict(args, kwargs)
            address, port, provider = self._server(client)
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
    def _server(client: Any) -> tuple[str, int, str]:
        """(server.address, server.port, provider) of a client."""
        address, port = server_of(client._http_options.base_url or "")
        return address, port, "gcp.vertex_ai" if client.vertexai else "gcp.gemini"

    # --- after the request --------------------------------------------------

    @staticmethod
    def _finish(call: GenAICall, response: Any) -> None:
        try:
            readers.read_body(call, getattr(response, "body", None))
        except Exception:
            report_internal_error("reading a Google Gen AI response")
        call.end()
