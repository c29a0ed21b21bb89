"""The Anthropic patches: the client's `request` method (sync and async), and the
SDK's own call span.

Every Messages call goes through `SyncAPIClient.request` / `AsyncAPIClient.request`
with the path and the JSON body, however the app made it: `messages.create`
(streamed or not), `messages.parse`, the `messages.stream(...)` helper,
`beta.messages`, `with_raw_response`, `with_streaming_response`, and the Bedrock,
Vertex and Foundry clients, which share the code path. One patch there sees all of
them, gives one span per logical call even when the SDK retries, and costs a string
comparison for the requests that are not Messages calls.

Not traced: `messages.count_tokens` (it is free; no span and no usage, so it can
never be mistaken for spend) and message batches (billed later, asynchronously).

Since version 2 the anthropic SDK starts its own span for each API call
(`anthropic.messages.create`, with usage). For a call that llmledger traces the
SDK's span would be a second GenAI span with the same tokens, counted twice
downstream; so while our span is current, `skip_sdk_span` tells the SDK not to
start one. Its spans for everything else (count_tokens, files, ...) stay.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable

from opentelemetry import context, trace

from .._genai.hook import Recorder, abefore_send, before_send
from .._genai.stainless import StainlessExchange
from .._genai import AsyncStreamProxy, GenAICall, SyncStreamProxy, Telemetry, report_internal_error
from .._genai import attributes as attr
from .readers import REQUEST_SERVICE_TIER, input_messages, read_message
from .streams import MessageStreamReader

MESSAGES_PATHS = frozenset({"/v1/messages", "/v1/messages?beta=true"})

REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"

# Request body field -> span attribute, for the cheap optional request attributes.
_REQUEST_FIELDS = (
    ("max_tokens", attr.REQUEST_MAX_TOKENS),
    ("temperature", attr.REQUEST_TEMPERATURE),
    ("top_p", attr.REQUEST_TOP_P),
    ("top_k", REQUEST_TOP_K),
    ("service_tier", REQUEST_SERVICE_TIER),
)

# Set in the context while llmledger's span of a call is current.
_TRACED_BY_LLMLEDGER = context.create_key("llmledger-anthropic-call")

# Client class module -> provider, for SDK versions without `_gen_ai_provider_name`.
_PROVIDER_BY_MODULE = (("bedrock", "aws.bedrock"), ("vertex", "gcp.vertex_ai"))


class SdkTypes:
    """The SDK classes results are told apart by; imported when instrumenting, never before."""

    def __init__(self) -> None:
        from anthropic import AsyncStream, Stream
        from anthropic._response import AsyncAPIResponse, BaseAPIResponse

        self.streams = (Stream, AsyncStream)
        self.raw_response = BaseAPIResponse
        self.async_raw_response = AsyncAPIResponse


class RequestPatches:
    """The wrappers for `request`, bound to one instrumentor's telemetry."""

    def __init__(self, telemetry: Telemetry, sdk: SdkTypes) -> None:
        self.telemetry = telemetry
        self.sdk = sdk
        self.enabled = True  # False when another instrumentation traces Messages calls
        self._servers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # Run once by the first traced request (see the instrumentor).
        self.check_at_first_call: Callable[[], None] | None = None

    # --- the wrappers -------------------------------------------------------

    def traced_request(self, wrapped, instance, args, kwargs):
        call = self._start(instance, args, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        plan = before_send(call, _exchange(instance, args, kwargs, call))
        if plan.hit:
            return plan.replayed
        try:
            result = call.send(wrapped, args, kwargs, _context_of(call))
        except Exception as exc:
            if plan.can_fall_back(exc):
                return plan.fall_back(exc)
            raise
        return self._finish(call, result, plan.recorder)

    async def traced_async_request(self, wrapped, instance, args, kwargs):
        call = self._start(instance, args, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        plan = await abefore_send(call, _exchange(instance, args, kwargs, call))
        if plan.hit:
            return plan.replayed
        try:
            result = await call.asend(wrapped, args, kwargs, _context_of(call))
        except Exception as exc:
            if plan.can_fall_back(exc):
                return await plan.afall_back(exc)
            raise
        return self._finish(call, result, plan.recorder)

    # --- before the request -------------------------------------------------

    def _start(self, client: Any, args: tuple, kwargs: dict) -> GenAICall | None:
        """Start the call's span, or None when this request is not a Messages call we trace."""
        try:
            if self.check_at_first_call is not None:
                check, self.check_at_first_call = self.check_at_first_call, None
                check()
            options = args[1] if len(args) > 1 else kwargs["options"]
            if options.url not in MESSAGES_PATHS or options.method != "post" or not self.enabled:
                return None
            body = options.json_data
            if not isinstance(body, dict):
                return None
            address, port, provider = self._server(client)
            attributes = {
                attr.OPERATION_NAME: attr.OPERATION_CHAT,
                attr.PROVIDER_NAME: provider,
                attr.SERVER_ADDRESS: address,
                attr.SERVER_PORT: port,
                attr.REQUEST_STREAM: bool(kwargs.get("stream") or body.get("stream")),
            }
            model = body.get("model")
            if model:
                attributes[attr.REQUEST_MODEL] = str(model)
            for field, name in _REQUEST_FIELDS:
                value = body.get(field)
                if value is not None and isinstance(value, (int, float, str)):
                    attributes[name] = value
            stop_sequences = body.get("stop_sequences")
            if stop_sequences:
                attributes[REQUEST_STOP_SEQUENCES] = [str(s) for s in stop_sequences]
            call = self.telemetry.start_call(attributes)
            if call.capture_content:
                messages, system = input_messages(body)
                call.capture_input(messages)
                call.capture_input(system, attr.SYSTEM_INSTRUCTIONS)
            return call
        except Exception:
            report_internal_error("starting an Anthropic span")
            return None

    def _server(self, client: Any) -> tuple[str, int, str]:
        """(server.address, server.port, provider) of a client, cached until its base URL changes."""
        base_url = client.base_url
        try:
            cached = self._servers.get(client)
        except TypeError:  # a client that cannot be weakly referenced
            cached = None
        if cached is not None and cached[0] is base_url:
            return cached[1]
        port = base_url.port or (443 if base_url.scheme == "https" else 80)
        server = (base_url.host, port, provider_of(client))
        try:
            self._servers[client] = (base_url, server)
        except TypeError:
            pass
        return server

    # --- after the request --------------------------------------------------

    def _finish(self, call: GenAICall, result: Any, recorder: Recorder | None = None) -> Any:
        try:
            read, stream_reader = read_message, MessageStreamReader
            if recorder is not None:  # the cache keeps the answer as it is read
                read = recorder.reading(read_message)
                stream_reader = lambda capture: recorder.chunks(MessageStreamReader(capture))  # noqa: E731
            if isinstance(result, self.sdk.streams):
                proxy_class = AsyncStreamProxy if hasattr(result, "__anext__") else SyncStreamProxy
                return proxy_class(result, call, stream_reader(call.capture_content))
            if isinstance(result, self.sdk.raw_response):
                return self._finish_raw(call, result, read, stream_reader)
            read(call, result)
        except Exception:
            report_internal_error("reading an Anthropic response")
        call.end()
        return result

    def _finish_raw(self, call: GenAICall, raw: Any, read: Callable, stream_reader: Callable) -> Any:
        """`with_raw_response` / `with_streaming_response`: the SDK's response object."""
        from ..openai.raw import AsyncRawResponseProxy, RawResponseProxy  # SDK-neutral proxies

        is_async = isinstance(raw, self.sdk.async_raw_response)
        streamed = bool(getattr(raw, "_is_sse_stream", False))
        if not streamed and raw.http_response.is_closed:
            # with_raw_response: the body is here already. The sync parse() is cached
            # by the SDK, so reading it now costs the app nothing later; the async one
            # cannot run here, so read the JSON body.
            read(call, raw.http_response.json() if is_async else raw.parse())
            call.end()
            return raw
        on_chunk = stream_reader(call.capture_content) if streamed else None
        proxy_class = AsyncRawResponseProxy if is_async else RawResponseProxy
        return proxy_class(raw, call, read, on_chunk)


def _exchange(client: Any, args: tuple, kwargs: dict, call: GenAICall) -> StainlessExchange:
    attributes = call.start_attributes
    options = args[1] if len(args) > 1 else kwargs["options"]
    return StainlessExchange(client, args, kwargs, options, attributes[attr.PROVIDER_NAME], "/v1/messages",
                             bool(attributes[attr.REQUEST_STREAM]))


def _context_of(call: GenAICall) -> context.Context:
    """The context the SDK sends in: the call's span current, marked as ours so that the SDK
    skips its own span."""
    return context.set_value(_TRACED_BY_LLMLEDGER, True, trace.set_span_in_context(call.span, call.parent_context))


def skip_sdk_span(wrapped, instance, args, kwargs):
    """Wrapper of the SDK's `start_api_call_span`: no SDK span inside an llmledger call."""
    if context.get_value(_TRACED_BY_LLMLEDGER):
        return None  # the SDK then runs the call without a span of its own
    return wrapped(*args, **kwargs)


def provider_of(client: Any) -> str:
    """`gen_ai.provider.name` of a client: the SDK says so itself since version 2."""
    named = getattr(client, "_gen_ai_provider_name", None)
    if isinstance(named, str) and named:
        return named
    module = type(client).__module__
    for part, provider in _PROVIDER_BY_MODULE:
        if part in module:
            return provider
    return "anthropic"
