"""The Mistral patches: `Chat.complete` / `stream` / `complete_async` / `stream_async`
and `Embeddings.create` / `create_async`, through the shared `_genai.methods` wrappers.

The SDK's own send method (`BaseSDK.do_request`) only sees the raw HTTP exchange, and a
stream is parsed above it, so the public methods are patched instead. The request is
read from the method's keyword arguments (the SDK takes no positional ones), the answer
from its typed result (`readers`, `streams`).
"""
from __future__ import annotations

import importlib
from typing import Any, Iterator

from .._genai import Telemetry
from .._genai import attributes as attr
from .._genai.server import server_of
from .._genai.methods import Endpoint, MethodPatches
from . import readers
from .streams import ChatStreamReader

PROVIDER = "mistral_ai"

CHAT = Endpoint("Mistral chat", attr.OPERATION_CHAT, read_result=readers.read_chat)
CHAT_STREAM = Endpoint("Mistral chat", attr.OPERATION_CHAT, streamed=True, stream_reader=ChatStreamReader)
EMBEDDINGS = Endpoint("Mistral embeddings", attr.OPERATION_EMBEDDINGS, read_result=readers.read_embeddings)

# (module under the SDK package, class, method, endpoint, async?)
_METHODS = (
    ("chat", "Chat", "complete", CHAT, False),
    ("chat", "Chat", "complete_async", CHAT, True),
    ("chat", "Chat", "stream", CHAT_STREAM, False),
    ("chat", "Chat", "stream_async", CHAT_STREAM, True),
    ("embeddings", "Embeddings", "create", EMBEDDINGS, False),
    ("embeddings", "Embeddings", "create_async", EMBEDDINGS, True),
)


def targets(telemetry: Telemetry, packages: tuple[str, ...]) -> Iterator[tuple[str, str, Any]]:
    """(module, "Class.method", wrapper) for every traced method of the installed SDK."""
    patches = MethodPatches(telemetry, start_attributes, readers.capture_input)
    for package in packages:
        try:
            importlib.import_module(f"{package}.chat")
        except ImportError:
            continue
        for module, cls, method, endpoint, is_async in _METHODS:
            wrapper = patches.coroutine(endpoint) if is_async else patches.sync(endpoint)
            yield f"{package}.{module}", f"{cls}.{method}", wrapper
        return  # the first package that has the resources is the SDK's


def start_attributes(endpoint: Endpoint, resource: Any, kwargs: dict) -> dict:
    address, port = _server(resource, kwargs.get("server_url"))
    attributes = {
        attr.OPERATION_NAME: endpoint.operation,
        attr.PROVIDER_NAME: PROVIDER,
        attr.SERVER_ADDRESS: address,
        attr.SERVER_PORT: port,
    }
    model = kwargs.get("model")
    if isinstance(model, str) and model:
        attributes[attr.REQUEST_MODEL] = model
    if endpoint.operation == attr.OPERATION_CHAT:
        attributes[attr.REQUEST_STREAM] = endpoint.streamed
        readers.add_request_attributes(attributes, kwargs)
    return attributes


def _server(resource: Any, server_url: str | None) -> tuple[str, int]:
    return server_of(server_url or resource.sdk_configuration.get_server_details()[0])
