"""The OpenAI patches: one on the client's `request` method, sync and async.

Every API call of the SDK goes through `SyncAPIClient.request` /
`AsyncAPIClient.request` with the endpoint path and the JSON body, whichever
way the app called it: `create`, `parse`, the `stream()` helpers,
`with_raw_response`, `with_streaming_response`, the Azure client, the
module-level client. Patching there (instead of each resource method) sees all
of them, gives one span per logical call even when the SDK retries, and costs
a dict lookup for the endpoints that are not LLM calls.

The span is current only while the HTTP request is in flight (attached and
detached in the same task); what comes back is read by `readers`, streams are
handed to the `_genai` stream proxies, raw responses to `raw`.
"""
from __future__ import annotations

import importlib
import weakref
from typing import Any, Callable, Mapping

from .._genai.hook import Recorder, abefore_send, before_send
from .._genai.stainless import StainlessExchange
from .._genai import (
    AsyncStreamProxy,
    GenAICall,
    SyncStreamProxy,
    Telemetry,
    report_internal_error,
)
from .._genai import attributes as attr
from . import readers
from .providers import provider_for
from .raw import AsyncRawResponseProxy, RawResponseProxy


class Endpoint:
    """What the instrumentation knows about one LLM endpoint of the API."""

    __slots__ = ("path", "operation", "read_result", "stream_reader", "takes_include_usage")

    def __init__(self, path: str, operation: str, read_result: Callable,
                 stream_reader: Callable[[bool, bool], Callable], takes_include_usage: bool):
        self.path = path
        self.operation = operation
        self.read_result = read_result
        self.stream_reader = stream_reader  # (hide_usage_chunk, capture_content) -> on_chunk
        self.takes_include_usage = takes_include_usage


ENDPOINTS = {
    e.path: e
    for e in (
        Endpoint("/chat/completions", attr.OPERATION_CHAT, readers.read_chat_completion,
                 readers.ChatStreamReader, True),
        Endpoint("/responses", attr.OPERATION_CHAT, readers.read_response,
                 lambda hide, capture: readers.read_response_event, False),
        Endpoint("/completions", attr.OPERATION_TEXT_COMPLETION, readers.read_completion,
                 readers.CompletionStreamReader, True),
        Endpoint("/embeddings", attr.OPERATION_EMBEDDINGS, readers.read_embeddings,
                 lambda hide, capture: _no_chunks, False),
    )
}

# Request body field -> span attribute, for the cheap optional request attributes.
_REQUEST_FIELDS = {
    "max_tokens": attr.REQUEST_MAX_TOKENS,
    "max_completion_tokens": attr.REQUEST_MAX_TOKENS,
    "max_output_tokens": attr.REQUEST_MAX_TOKENS,
    "temperature": attr.REQUEST_TEMPERATURE,
    "top_p": attr.REQUEST_TOP_P,
    "seed": attr.REQUEST_SEED,
    "frequency_penalty": attr.REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": attr.REQUEST_PRESENCE_PENALTY,
    "service_tier": attr.OPENAI_REQUEST_SERVICE_TIER,
}


def _no_chunks(call: GenAICall, chunk: Any) -> bool:
    return False


class SdkTypes:
    """The SDK classes results are told apart by; imported when instrumenting, never before.

    A class an older SDK version lacks is simply never matched."""

    def __init__(self) -> None:
        openai = importlib.import_module("openai")
        legacy = _optional("openai._legacy_response", "LegacyAPIResponse")
        base_response = _optional("openai._response", "BaseAPIResponse")
        async_response = _optional("openai._response", "AsyncAPIResponse")
        self.streams = tuple(getattr(openai, name) for name in ("Stream", "AsyncStream") if hasattr(openai, name))
        self.raw_responses = legacy + base_response
        self.legacy_response = legacy
        self.async_response = async_response
        # The module-level clients, whose `base_url` follows `openai.base_url`.
        self.module_clients = _optional("openai", "_ModuleClient")


def _optional(module: str, name: str) -> tuple[type, ...]:
    try:
        return (getattr(importlib.import_module(module), name),)
    except (ImportError, AttributeError):
        return ()


class RequestPatches:
    """The wrappers for `request`, bound to one instrumentor's telemetry."""

    def __init__(self, telemetry: Telemetry, sdk: SdkTypes, endpoints: Mapping[str, Endpoint]):
        self.telemetry = telemetry
        self.sdk = sdk
        self.endpoints = dict(endpoints)  # the instrumentor drops endpoints another tool traces
        self.include_usage = telemetry.settings.openai_include_usage
        self.provider_override = telemetry.settings.openai_provider
        self._servers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # Run once by the first traced request (see the instrumentor).
        self.check_at_first_call: Callable[[], None] | None = None

    # --- the wrappers -------------------------------------------------------

    def traced_request(self, wrapped, instance, args, kwargs):
        started = self._start(instance, args, kwargs)
        if started is None:
            return wrapped(*args, **kwargs)
        call, endpoint, options, stream, hide_usage = started
        plan = before_send(call, _exchange(instance, args, kwargs, options, call, endpoint, stream))
        if plan.hit:
            return plan.replayed
        try:
            result = call.send(wrapped, args, kwargs)
        except Exception as exc:
            if plan.can_fall_back(exc):
                return plan.fall_back(exc)
            raise
        return self._finish(call, endpoint, stream, hide_usage, result, plan.recorder)

    async def traced_async_request(self, wrapped, instance, args, kwargs):
        started = self._start(instance, args, kwargs)
        if started is None:
            return await wrapped(*args, **kwargs)
        call, endpoint, options, stream, hide_usage = started
        plan = await abefore_send(call, _exchange(instance, args, kwargs, options, call, endpoint, stream))
        if plan.hit:
            return plan.replayed
        try:
            result = await call.asend(wrapped, args, kwargs)
        except Exception as exc:
            if plan.can_fall_back(exc):
                return await plan.afall_back(exc)
            raise
        return self._finish(call, endpoint, stream, hide_usage, result, plan.recorder)

    # --- before the request -------------------------------------------------

    def _start(self, client, args, kwargs) -> tuple[GenAICall, Endpoint, Any, bool, bool] | None:
        """Start the call's span, or None when this request is not an LLM call we trace."""
        try:
            if self.check_at_first_call is not None:
                check, self.check_at_first_call = self.check_at_first_call, None
                check()
            options = args[1] if len(args) > 1 else kwargs["options"]
            endpoint = self.endpoints.get(options.url)
            if endpoint is None or options.method != "post":
                return None
            body = options.json_data
            if not isinstance(body, dict):
                return None
            stream = bool(kwargs.get("stream") or body.get("stream"))
            address, port, provider = self._server(client)
            attributes = {
                attr.OPERATION_NAME: endpoint.operation,
                attr.PROVIDER_NAME: provider,
                attr.SERVER_ADDRESS: address,
                attr.SERVER_PORT: port,
                attr.REQUEST_STREAM: stream,
            }
            model = body.get("model")
            if model:
                attributes[attr.REQUEST_MODEL] = str(model)
            # Bodies hold few fields: walk them rather than probe for every option.
            for field, value in body.items():
                name = _REQUEST_FIELDS.get(field)
                if name is not None and isinstance(value, (int, float, str)):
                    attributes[name] = value
            choices = body.get("n")
            if isinstance(choices, int) and choices != 1:
                attributes[attr.REQUEST_CHOICE_COUNT] = choices
            hide_usage = False
            if stream and endpoint.takes_include_usage and self.include_usage:
                hide_usage = _ask_for_usage(options, body)
            call = self.telemetry.start_call(attributes)
            if call.capture_content:
                messages, system = readers.input_messages(endpoint.path, body)
                call.capture_input(messages)
                if system:
                    call.capture_input(system, attr.SYSTEM_INSTRUCTIONS)
            return call, endpoint, options, stream, hide_usage
        except Exception:
            report_internal_error("starting an OpenAI span")
            return None

    def _server(self, client) -> tuple[str, int, str]:
        """(server.address, server.port, provider) of a client, cached until its base URL changes."""
        try:
            cached = self._servers.get(client)
        except TypeError:  # a client that cannot be weakly referenced
            cached = None
        if cached is not None:
            stored, base_url, server = cached
            # Recent SDKs' `base_url` property costs an import per call: read the attribute
            # behind it where the property was seen to return just that.
            current = client.__dict__.get("_base_url") if stored else client.base_url
            if current is base_url or current == base_url:
                return server
        # The property, not the attribute behind it: the module-level client
        # (`openai.chat.completions.create`) answers it from `openai.base_url`.
        base_url = client.base_url
        host = base_url.host
        port = base_url.port or (443 if base_url.scheme == "https" else 80)
        server = (host, port, self.provider_override or provider_for(host, port))
        stored = getattr(client, "__dict__", {}).get("_base_url") is base_url \
            and not isinstance(client, self.sdk.module_clients)
        try:
            self._servers[client] = (stored, base_url, server)
        except TypeError:
            pass
        return server

    # --- after the request --------------------------------------------------

    def _finish(self, call: GenAICall, endpoint: Endpoint, stream: bool, hide_usage: bool, result: Any,
                recorder: Recorder | None = None) -> Any:
        try:
            read_result, stream_reader = endpoint.read_result, endpoint.stream_reader
            if recorder is not None:  # the cache keeps the answer as it is read
                read_result = recorder.reading(read_result)
                stream_reader = lambda hide, capture: recorder.chunks(endpoint.stream_reader(hide, capture))  # noqa: E731
            if stream and isinstance(result, self.sdk.streams):
                proxy_class = AsyncStreamProxy if hasattr(result, "__anext__") else SyncStreamProxy
                return proxy_class(result, call, stream_reader(hide_usage, call.capture_content))
            if isinstance(result, self.sdk.raw_responses):
                return self._finish_raw(call, read_result, stream_reader, stream, hide_usage, result)
            read_result(call, result)
        except Exception:
            report_internal_error("reading an OpenAI response")
        call.end()
        return result

    def _finish_raw(self, call: GenAICall, read_result: Callable, stream_reader: Callable, stream: bool,
                    hide_usage: bool, raw: Any) -> Any:
        if isinstance(raw, self.sdk.legacy_response) and not stream:
            # with_raw_response: the body is read already, and parse() is cached
            # by the SDK, so reading the usage now costs the app nothing later.
            read_result(call, raw.parse())
            call.end()
            return raw
        on_chunk = stream_reader(hide_usage, call.capture_content) if stream else None
        proxy_class = AsyncRawResponseProxy if isinstance(raw, self.sdk.async_response) else RawResponseProxy
        return proxy_class(raw, call, read_result, on_chunk)


def _exchange(client, args, kwargs, options, call: GenAICall, endpoint: Endpoint, stream: bool) -> StainlessExchange:
    return StainlessExchange(client, args, kwargs, options, call.start_attributes[attr.PROVIDER_NAME], endpoint.path,
                             stream, b"data: [DONE]\n\n")


def _ask_for_usage(options: Any, body: dict) -> bool:
    """Add `stream_options.include_usage` unless the app decided; True if we added it."""
    stream_options = body.get("stream_options")
    if stream_options is None:
        stream_options = {}
    elif not isinstance(stream_options, dict) or "include_usage" in stream_options:
        return False
    options.json_data = {**body, "stream_options": {**stream_options, "include_usage": True}}
    return True
