"""OTLP/HTTP receiver: POST /v1/traces, /v1/metrics and /v1/logs, protobuf or JSON,
optionally gzip-compressed. All three signals go through the same endpoint code
(see `signals`): the same limits, authentication and answers.

Status codes follow the OTLP/HTTP specification: 200 (with `partial_success`
when spans were rejected), 400 undecodable, 405 not a POST, 413 over the size
cap (as sent or decompressed), 415 unsupported media type or content encoding,
503 with Retry-After when the pipeline pushes back (also when too many request bytes
are in flight, counted across all signals and both receivers). Error bodies are a
`google.rpc.Status` in the request's encoding (JSON when that is unknown).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import anyio.to_thread
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llmledger.processor.pipeline import Backpressure, Principal
from llmledger.processor.receivers.admission import InflightBytes
from llmledger.processor.receivers.answers import (
    bad_request_status,
    error_status,
    export_response,
    unavailable_status,
)
from llmledger.processor.receivers.decode import (
    JSON_THREAD_BYTES,
    PROTOBUF_THREAD_BYTES,
    SUPPORTED_CONTENT_ENCODINGS,
    DecodeError,
    PayloadTooLarge,
    decompress,
    is_supported_content_encoding,
    parse_json,
    parse_protobuf,
)
from llmledger.processor.receivers.signals import LOGS, METRICS, TRACES, Signal

logger = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

Authenticate = Callable[[Mapping[str, str]], "Principal | None"]


def otlp_http_routes(
    pipeline,
    *,
    max_request_bytes: int = 16 * 1024 * 1024,
    authenticate: Authenticate | None = None,
    inflight: InflightBytes | None = None,
    metrics=None,
    logs=None,
) -> list[Route]:
    """The Starlette routes of the OTLP/HTTP receiver: /v1/traces for `pipeline`, and
    /v1/metrics and /v1/logs for the `metrics` and `logs` pipelines when given.

    Each pipeline's `submit(request, principal)` is awaited with each decoded request
    that carries items. `authenticate(headers)` returns the caller's Principal (or
    None) and raises PermissionError for a bad key."""
    if max_request_bytes <= 0:
        raise ValueError(f"max_request_bytes must be positive, got {max_request_bytes}")
    inflight = inflight or InflightBytes(1 << 62)  # one count for every signal
    routes = []
    for signal, target in ((TRACES, pipeline), (METRICS, metrics), (LOGS, logs)):
        if target is not None:
            endpoint = _ExportEndpoint(signal, target, max_request_bytes, authenticate, inflight)
            routes.append(Route(signal.http_path, endpoint, name=f"otlp_{signal.name}"))
    return routes


class _ExportEndpoint:
    """A plain ASGI app, so that Starlette passes every method through and a GET gets an
    OTLP-shaped 405 from `handle`."""

    def __init__(self, signal: Signal, pipeline, max_request_bytes: int, authenticate: Authenticate | None,
                 inflight: InflightBytes):
        self._signal = signal
        self._pipeline = pipeline
        self._max_bytes = max_request_bytes
        self._authenticate = authenticate
        self._inflight = inflight

    async def __call__(self, scope, receive, send) -> None:
        body = _BodyTracker(receive)
        request = Request(scope, body.receive)
        response = await self.handle(request)
        if not body.complete:
            # A client waiting on Expect: 100-continue for our word never sends the body; any
            # other is read out first, so that it reads our answer rather than a reset.
            waiting = not body.started and request.headers.get("expect", "").lower() == "100-continue"
            if waiting or not await body.discard(_DISCARD_LIMIT * self._max_bytes, _BODY_TIMEOUT_S):
                response.headers["Connection"] = "close"
        await response(scope, body.receive, send)

    async def handle(self, request: Request) -> Response:
        media = _media_type(request.headers.get("content-type"))
        if request.method != "POST":
            status = error_status(code_pb2.UNIMPLEMENTED, f"{request.method} is not allowed; use POST")
            return _respond(status, media, 405, headers={"Allow": "POST"})
        principal = None
        if self._authenticate is not None:
            try:
                principal = self._authenticate(request.headers)
            except PermissionError as exc:
                return _respond(error_status(code_pb2.UNAUTHENTICATED, str(exc)), media, 401)
        if media is None:
            message = (
                f"unsupported Content-Type {request.headers.get('content-type')!r}; "
                f"use {PROTOBUF} or {JSON}"
            )
            return _respond(error_status(code_pb2.INVALID_ARGUMENT, message), JSON, 415)
        content_encoding = request.headers.get("content-encoding")
        if not is_supported_content_encoding(content_encoding):
            message = (
                f"unsupported Content-Encoding {content_encoding!r}; "
                f"use {', '.join(SUPPORTED_CONTENT_ENCODINGS)}"
            )
            # RFC 9110: a 415 for a content coding lists the codings we accept.
            accepted = {"Accept-Encoding": ", ".join(SUPPORTED_CONTENT_ENCODINGS)}
            return _respond(error_status(code_pb2.INVALID_ARGUMENT, message), media, 415, headers=accepted)

        held = 0
        try:
            body = await _read_body(request, self._max_bytes, self._inflight)
            held = len(body)
            return await self._decode_and_submit(body, content_encoding, media, principal)
        except PayloadTooLarge as exc:
            logger.debug("OTLP/HTTP request too large: %s", exc)
            return _respond(error_status(code_pb2.RESOURCE_EXHAUSTED, str(exc)), media, 413)
        except _OverCapacity as exc:
            status = unavailable_status(str(exc), _OVERLOAD_RETRY_AFTER_S)
            return _respond(status, media, 503, headers={"Retry-After": str(_OVERLOAD_RETRY_AFTER_S)})
        except TimeoutError:
            message = f"request body not received within {_BODY_TIMEOUT_S} s"
            return _respond(error_status(code_pb2.DEADLINE_EXCEEDED, message), media, 408)
        finally:
            self._inflight.release(held)

    async def _decode_and_submit(self, body: bytes, content_encoding, media: str, principal) -> Response:
        signal = self._signal
        try:
            export = await _decode_body(body, content_encoding, media, self._max_bytes, self._inflight, signal)
        except DecodeError as exc:
            logger.debug("OTLP/HTTP %s request undecodable: %s", signal.name, exc)
            return _respond(bad_request_status(str(exc), exc.field), media, 400)

        if signal.count(export) == 0:
            # The spec asks for success on an empty request; the pipeline has nothing to do.
            return _respond(signal.response_type(), media)
        try:
            result = await self._pipeline.submit(export, principal)
        except Backpressure as exc:
            status = unavailable_status(exc.reason, exc.retry_after)
            return _respond(status, media, 503, headers={"Retry-After": str(exc.retry_after)})
        return _respond(export_response(result, signal), media)


def _media_type(content_type: str | None) -> str | None:
    """PROTOBUF or JSON from a Content-Type header (parameters such as charset ignored), else None."""
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    return media if media in (PROTOBUF, JSON) else None


class _OverCapacity(Exception):
    """Taking this request would pass the cap on bytes in flight."""


_OVERLOAD_RETRY_AFTER_S = 1
_BODY_TIMEOUT_S = 30  # a client that trickles its body holds memory: cut it off
_DISCARD_LIMIT = 4  # × the size cap: the body read and dropped after a refusal, at most


async def _read_body(request: Request, max_bytes: int, inflight: InflightBytes) -> bytes:
    """The raw body, refused as soon as it is known to pass `max_bytes`, and counted in
    `inflight` (the caller releases `len(body)` when done).

    A body that declares its length takes its room before it is read, all or nothing: under
    a flood, requests are refused before they hold anything, rather than many holding part
    of the room and none getting through. A chunked body takes room as it arrives."""
    declared = request.headers.get("content-length")
    declared = int(declared) if declared is not None and declared.strip().isdigit() else None
    if declared is not None and declared > max_bytes:
        raise PayloadTooLarge(f"request body is {declared} bytes, over the limit of {max_bytes}")
    if declared is not None and not inflight.try_acquire(declared):
        raise _OverCapacity("too many request bytes in flight; retry shortly")
    held = declared or 0
    body = bytearray()
    try:
        with anyio.fail_after(_BODY_TIMEOUT_S):
            async for chunk in request.stream():
                if len(body) + len(chunk) > held:
                    if not inflight.try_acquire(len(body) + len(chunk) - held):
                        raise _OverCapacity("too many request bytes in flight; retry shortly")
                    held = len(body) + len(chunk)
                body += chunk
                if len(body) > max_bytes:
                    raise PayloadTooLarge(f"request body is over the limit of {max_bytes} bytes")
    except BaseException:
        inflight.release(held)
        raise
    inflight.release(held - len(body))  # a body shorter than it said
    return bytes(body)


class _BodyTracker:
    """The ASGI `receive` of one request, noting whether the whole body has been read.

    A request refused before its body is read must still have the body read (and dropped)
    before the answer: a server that answers and closes while the client is still sending
    makes the client's kernel see a reset, and the client never reads the 503."""

    def __init__(self, receive):
        self._receive = receive
        self.started = False  # whether any of the body has been asked for
        self.complete = False

    async def receive(self):
        self.started = True
        message = await self._receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.complete = True
        return message

    async def discard(self, max_bytes: int, timeout_s: float) -> bool:
        """Read and drop the rest of the body, up to `max_bytes`; True if it all came."""
        dropped = 0
        with anyio.move_on_after(timeout_s):
            while not self.complete and dropped <= max_bytes:
                dropped += len((await self.receive()).get("body", b""))
        return self.complete


async def _decode_body(
    body: bytes, content_encoding: str | None, media: str, max_bytes: int, inflight: InflightBytes, signal: Signal
):
    # Inflating is fast (and capped); parsing is the slow part, moved off the loop when big.
    data = decompress(body, content_encoding, max_bytes)
    if not data:
        return signal.request_type()
    if data is not body:
        # The inflated copy lives while the request is parsed: count it, then let it go.
        if not inflight.try_acquire(len(data)):
            raise _OverCapacity("too many request bytes in flight; retry shortly")
        try:
            return await _parse(data, media, signal)
        finally:
            inflight.release(len(data))
    return await _parse(data, media, signal)


async def _parse(data: bytes, media: str, signal: Signal):
    if media == JSON:
        parse, thread_bytes = parse_json, JSON_THREAD_BYTES
    else:
        parse, thread_bytes = parse_protobuf, PROTOBUF_THREAD_BYTES
    if len(data) >= thread_bytes:
        return await anyio.to_thread.run_sync(parse, data, signal)
    return parse(data, signal)


def _respond(message: Message, media: str | None, status_code: int = 200, headers=None) -> Response:
    """`message` in the request's encoding: protobuf, or JSON (also when the encoding is unknown)."""
    if media == PROTOBUF:
        content = message.SerializeToString()
    else:
        content = json_format.MessageToJson(message, indent=None).encode("utf-8")
        media = JSON
    return Response(content, status_code, headers=headers, media_type=media)

