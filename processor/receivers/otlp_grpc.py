"""OTLP/gRPC receiver: Export of the TraceService, MetricsService and LogsService on one
grpc.aio server, all three through the same servicer code (see `signals`).

The request arrives as raw bytes and is parsed here, not by gRPC: a message
gRPC fails to deserialize is answered INTERNAL, while OTLP wants bad data to be
INVALID_ARGUMENT so that clients drop it instead of retrying.

Export is served as a client-streaming method (on the wire a unary call is the same): the
handler then runs before the message is read, so that the caller is authenticated and
given a slot (RequestSlots) before its message takes any memory; over the limits the
answer is UNAVAILABLE with RetryInfo, at once.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import anyio.to_thread
import grpc

from llmledger.processor.pipeline import Backpressure, Principal
from llmledger.processor.receivers.admission import InflightBytes, RequestSlots
from llmledger.processor.receivers.answers import (
    bad_request_status,
    export_response,
    retry_info,
    unavailable_status,
)
from llmledger.processor.receivers.decode import PROTOBUF_THREAD_BYTES, DecodeError, parse_protobuf
from llmledger.processor.receivers.signals import LOGS, METRICS, TRACES, Signal

logger = logging.getLogger(__name__)

Authenticate = Callable[[Mapping[str, str]], "Principal | None"]


# The standard place for a google.rpc.Status with details (read by Go clients and the
# Collector), and the key the OTel Python exporter reads its RetryInfo from.
STATUS_DETAILS_KEY = "grpc-status-details-bin"
PYTHON_RETRY_INFO_KEY = "google.rpc.retryinfo-bin"


class ExportReceiver:
    """Export(request bytes) -> the signal's export response; errors as OTLP/gRPC status codes."""

    def __init__(self, signal: Signal, pipeline, authenticate: Authenticate | None = None,
                 inflight: InflightBytes | None = None, slots: RequestSlots | None = None):
        self._signal = signal
        self._pipeline = pipeline
        self._authenticate = authenticate
        self._inflight = inflight or InflightBytes(1 << 62)
        self._slots = slots or RequestSlots(1 << 30, wait_s=0)

    async def Export(self, requests, context: grpc.aio.ServicerContext):
        """The call's one message is read (as bytes) only once a slot is taken; `requests` is
        left alone: its generator would keep the last message alive after a refusal."""
        principal = None
        if self._authenticate is not None:
            metadata = context.invocation_metadata() or ()
            headers = {key: value for key, value in metadata if isinstance(value, str)}  # not the -bin ones
            try:
                principal = self._authenticate(headers)
            except PermissionError as exc:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))

        if not await self._slots.acquire():
            await _abort_unavailable(context, "too many requests at once; retry shortly", _OVERLOAD_RETRY_AFTER_S)
        try:
            request = await context.read()  # a unary call: its one message, as bytes
            if request is grpc.aio.EOF:
                return self._signal.response_type()
            if not self._inflight.try_acquire(len(request)):
                request = None  # not kept alive by the abort's traceback while the call winds down
                await _abort_unavailable(context, "too many request bytes in flight; retry shortly",
                                         _OVERLOAD_RETRY_AFTER_S)
            try:
                return await self._export(request, principal, context)
            finally:
                self._inflight.release(len(request))
        finally:
            self._slots.release()

    async def _export(self, request: bytes, principal, context):
        signal = self._signal
        try:
            if len(request) >= PROTOBUF_THREAD_BYTES:
                export = await anyio.to_thread.run_sync(parse_protobuf, request, signal)
            else:
                export = parse_protobuf(request, signal)
        except DecodeError as exc:
            logger.debug("OTLP/gRPC %s request undecodable: %s", signal.name, exc)
            status = bad_request_status(str(exc), exc.field)
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, str(exc),
                trailing_metadata=((STATUS_DETAILS_KEY, status.SerializeToString()),),
            )

        if signal.count(export) == 0:
            return signal.response_type()
        try:
            result = await self._pipeline.submit(export, principal)
        except Backpressure as exc:
            await _abort_unavailable(context, exc.reason, exc.retry_after)
        return export_response(result, signal)


_OVERLOAD_RETRY_AFTER_S = 1


async def _abort_unavailable(context, reason: str, retry_after: int) -> None:
    status = unavailable_status(reason, retry_after)
    await context.abort(
        grpc.StatusCode.UNAVAILABLE, reason,
        trailing_metadata=(
            (STATUS_DETAILS_KEY, status.SerializeToString()),
            (PYTHON_RETRY_INFO_KEY, retry_info(retry_after).SerializeToString()),
        ),
    )


def build_grpc_server(
    pipeline,
    *,
    host: str,
    port: int,
    max_request_bytes: int = 16 * 1024 * 1024,
    authenticate: Authenticate | None = None,
    inflight: InflightBytes | None = None,
    metrics=None,
    logs=None,
    max_concurrent_requests: int = 4,
) -> tuple[grpc.aio.Server, int]:
    """A grpc.aio server with the TraceService (for `pipeline`), and the MetricsService and
    LogsService when their pipelines are given, bound to host:port, and the port it got
    (port 0 picks a free one). The caller starts and stops the server.

    Call from the running event loop. gRPC itself undoes `grpc-encoding: gzip` and
    answers RESOURCE_EXHAUSTED to a message over `max_request_bytes` (decompressed)."""
    if max_request_bytes <= 0:
        raise ValueError(f"max_request_bytes must be positive, got {max_request_bytes}")
    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", max_request_bytes),
        # gRPC shares a port with any other process that asks (SO_REUSEPORT) by default: a
        # second service would take half of this one's clients into another store.
        ("grpc.so_reuseport", 0),
        # Flow-control windows stay small: with bandwidth probing, a client may push megabytes
        # of a message before the handler has decided whether to take it (a flood of 13 MiB
        # messages held 1.3 GiB this way, with one request taken at a time).
        ("grpc.http2.bdp_probe", 0),
    ])
    # One count of bytes and one of requests for every signal.
    inflight = inflight or InflightBytes(1 << 62)
    slots = RequestSlots(max_concurrent_requests)
    for signal, target in ((TRACES, pipeline), (METRICS, metrics), (LOGS, logs)):
        if target is None:
            continue
        receiver = ExportReceiver(signal, target, authenticate, inflight, slots)
        export = grpc.stream_unary_rpc_method_handler(
            receiver.Export,
            request_deserializer=None,  # hand the raw bytes to Export
            response_serializer=signal.response_type.SerializeToString,
        )
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(signal.grpc_service, {"Export": export}),))
    address = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    bound_port = server.add_insecure_port(address)
    return server, bound_port
