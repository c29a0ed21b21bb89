"""The request side of the Google Gen AI SDK, for the call hook: what the response cache and
the routing file's fallbacks need of one `BaseApiClient.request*` call.

The SDK turns what those methods return, `SdkHttpResponse(headers, body)` with the
response's JSON text (a generator of them for a stream, one per chunk), into its own
`GenerateContentResponse` / `EmbedContentResponse` objects. A cache hit hands back the
stored JSON as such responses, so the app gets exactly what the provider's answer would
have made: `models.generate_content(_stream)`, `embed_content`, chats, sync and
`client.aio`.

- The cache key: the provider, the API method (`:generateContent`, `:streamGenerateContent`,
  `:embedContent`, ...), the model of the path, the request body and any `extra_body` of
  the call's `http_options` (which the SDK merges into the body).
- A call's own cache directive: the header `X-LLMLedger-Cache` or the field `llmledger_cache`
  of `extra_body`, both in `http_options` (`config=types.GenerateContentConfig(http_options=
  types.HttpOptions(headers={"X-LLMLedger-Cache": "exact"}))`), removed before the request
  is built; the app's own `http_options` object is never changed.
- A fallback is the same request through the same client with the target's model in the
  path: the SDK's path building, authentication and retries stay its own. A target's
  `base_url` (another endpoint speaking the same API: a gateway, a proxy) goes into the
  request's `http_options`, its `api_key_env` as the `x-goog-api-key` header. A target
  naming another `provider` than the call's own (`gcp.gemini` or `gcp.vertex_ai`) cannot be
  reached by this client and is skipped with a warning.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from google.genai import types

from .._genai.cache import DIRECTIVE_BODY_FIELD, DIRECTIVE_HEADER, CachedResponse, Directive, directive_of

logger = logging.getLogger("llmledger.instrumentation")

API_KEY_HEADER = "x-goog-api-key"

_warned_unreachable: set[tuple[str, str]] = set()


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


def set_path_model(args: tuple, kwargs: dict, model: str) -> tuple[tuple, dict]:
    """The request's arguments asking for `model`: it is part of the request path."""
    path = args[1] if len(args) > 1 else kwargs["path"]
    resource, method, query = split_path(path)
    prefix = resource[: len(resource) - len(model_of(resource))]
    new_path = f"{prefix}{model.removeprefix('models/')}:{method}" + (f"?{query}" if query else "")
    if len(args) > 1:
        return (args[0], new_path, *args[2:]), kwargs
    return args, {**kwargs, "path": new_path}


class GeminiExchange:
    """One model call through a Gen AI `BaseApiClient`, as the call hook sees it."""

    can_replay = True
    __slots__ = ("client", "args", "kwargs", "provider", "streamed")

    def __init__(self, client: Any, args: tuple, kwargs: dict, provider: str, streamed: bool):
        self.client = client
        self.args, self.kwargs = args, kwargs  # request(http_method, path, request_dict, http_options)
        self.provider = provider
        self.streamed = streamed

    # --- the request ---------------------------------------------------------------------

    @property
    def path(self) -> str:
        return self.args[1] if len(self.args) > 1 else self.kwargs["path"]

    @property
    def endpoint(self) -> str:
        return ":" + split_path(self.path)[1]

    @property
    def body(self) -> dict:
        """What shapes the answer: the request body without the SDK's own `_url` / `_query`
        entries, the model of the path, and the `extra_body` the SDK will merge in."""
        request = request_dict_of(self.args, self.kwargs)
        body = {k: v for k, v in request.items() if not k.startswith("_")} if isinstance(request, dict) else {}
        body["model"] = model_of(split_path(self.path)[0])
        extra = http_option(self.http_options, "extra_body")
        if extra:
            body["extra_body"] = extra
        return body

    @property
    def http_options(self) -> Any:
        return http_options_of(self.args, self.kwargs)

    def _use_http_options(self, options: Any) -> None:
        if len(self.args) > 3:
            self.args = (*self.args[:3], options, *self.args[4:])
        else:
            self.kwargs = {**self.kwargs, "http_options": options}

    def set_model(self, model: str) -> None:
        self.args, self.kwargs = set_path_model(self.args, self.kwargs, model)

    def take_directive(self) -> Directive | None:
        """The call's own cache directive, taken out of a copy of its `http_options`."""
        args = self.args  # `http_options_of` spelled out: this runs for every call
        options = args[3] if len(args) > 3 else self.kwargs.get("http_options")
        if not options:  # most calls
            return None
        found, changes = None, {}
        headers = http_option(options, "headers")
        if headers and any(name.lower() == DIRECTIVE_HEADER for name in headers):
            kept = {}
            for name, value in headers.items():
                if name.lower() == DIRECTIVE_HEADER:
                    found = value
                else:
                    kept[name] = value
            changes["headers"] = kept
        extra = http_option(options, "extra_body")
        if isinstance(extra, dict) and DIRECTIVE_BODY_FIELD in extra:
            extra = dict(extra)
            found = extra.pop(DIRECTIVE_BODY_FIELD)
            changes["extra_body"] = extra or None
        if not changes:
            return None
        self._use_http_options(_changed(options, changes))
        return directive_of(found)

    # --- answers -------------------------------------------------------------------------

    @staticmethod
    def payload(result: Any) -> dict | None:
        """The JSON of an `SdkHttpResponse` (a whole answer or one chunk of a stream)."""
        if isinstance(result, dict):
            return result
        body = getattr(result, "body", None)
        data = json.loads(body) if body else None
        return data if isinstance(data, dict) else None

    @staticmethod
    def encode_stream(events: list[dict]) -> bytes:
        """The chunks as the API streams them (`alt=sse`)."""
        return b"".join(f"data: {json.dumps(event, separators=(',', ':'))}\n\n".encode() for event in events)

    def replay(self, entry: CachedResponse) -> Any:
        if self.streamed:
            return (_response(entry, json.dumps(event)) for event in _decode_stream(entry.body))
        return _response(entry, entry.body.decode())

    async def areplay(self, entry: CachedResponse) -> Any:
        if not self.streamed:
            return _response(entry, entry.body.decode())

        async def chunks():
            for event in _decode_stream(entry.body):
                yield _response(entry, json.dumps(event))

        return chunks()

    # --- fallbacks -----------------------------------------------------------------------

    def reaches(self, target: Any) -> bool:
        """False for a fallback target on another provider: this client speaks only its own API."""
        if not target.provider or target.provider == self.provider:
            return True
        if (target.provider, target.model) not in _warned_unreachable:
            _warned_unreachable.add((target.provider, target.model))
            logger.warning("llmledger routing: fallback target %s on %s skipped: a Google Gen AI client (%s) cannot "
                           "send to another provider", target.model, target.provider, self.provider)
        return False

    def _elsewhere(self, model: str, base_url: str | None, api_key: str | None) -> GeminiExchange:
        other = GeminiExchange(self.client, self.args, self.kwargs, self.provider, self.streamed)
        other.set_model(model)
        changes: dict[str, Any] = {}
        if base_url:
            changes["base_url"] = base_url
        if api_key:
            changes["headers"] = {**(http_option(other.http_options, "headers") or {}), API_KEY_HEADER: api_key}
        if changes:
            other._use_http_options(_changed(other.http_options, changes))
        return other

    def send_elsewhere(self, model: str, base_url: str | None = None, api_key: str | None = None) -> Any:
        """Send the same request to `model` (on `base_url`): through the client, and so through the patch again."""
        other = self._elsewhere(model, base_url, api_key)
        send = self.client.request_streamed if self.streamed else self.client.request
        return send(*other.args, **other.kwargs)

    async def asend_elsewhere(self, model: str, base_url: str | None = None, api_key: str | None = None) -> Any:
        other = self._elsewhere(model, base_url, api_key)
        send = self.client.async_request_streamed if self.streamed else self.client.async_request
        return await send(*other.args, **other.kwargs)


def request_dict_of(args: tuple, kwargs: dict) -> dict | None:
    """The request body (`contents`, `systemInstruction`, ...) of `request(method, path, request_dict)`."""
    return args[2] if len(args) > 2 else kwargs.get("request_dict")


def http_options_of(args: tuple, kwargs: dict) -> Any:
    """The `http_options` of `request(http_method, path, request_dict, http_options)`."""
    return args[3] if len(args) > 3 else kwargs.get("http_options")


def http_option(options: Any, name: str) -> Any:
    """A field of `http_options`: an `HttpOptions`, its dict form, or None."""
    if options is None:
        return None
    return options.get(name) if isinstance(options, dict) else getattr(options, name, None)


def _changed(options: Any, changes: dict) -> Any:
    """A copy of `http_options` with `changes` (the SDK takes the dict form too)."""
    if options is None:
        return dict(changes)
    if isinstance(options, dict):
        return {**options, **changes}
    return options.model_copy(update=changes)


def _response(entry: CachedResponse, body: str) -> types.HttpResponse:
    return types.HttpResponse(headers={"content-type": entry.content_type}, body=body)


def _decode_stream(body: bytes):
    for block in body.decode().split("\n\n"):
        if block.startswith("data: "):
            yield json.loads(block[len("data: "):])
