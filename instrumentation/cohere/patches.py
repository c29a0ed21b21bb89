"""The Cohere patches: `V2Client.chat` / `chat_stream` / `embed` and their `AsyncV2Client`
forms, through the shared `_genai.methods` wrappers.

The SDK's HTTP client only sees raw exchanges, and a stream is decoded above it, so the
public methods are patched instead (`ClientV2` inherits them from `V2Client`). The
request is read from the method's keyword arguments (it takes no positional ones),
the answer from its typed result (`readers`, `streams`). `chat_stream` is a generator
(the async one an async generator): its request is sent when it is first iterated.
"""
from __future__ import annotations

from typing import Any, Iterator

from .._genai import Telemetry
from .._genai import attributes as attr
from .._genai.server import server_of
from .._genai.methods import Endpoint, MethodPatches
from . import readers
from .streams import ChatStreamReader

PROVIDER = "cohere"
_MODULE = "cohere.v2.client"

CHAT = Endpoint("Cohere chat", attr.OPERATION_CHAT, read_result=readers.read_chat)
CHAT_STREAM = Endpoint("Cohere chat", attr.OPERATION_CHAT, streamed=True, stream_reader=ChatStreamReader)
EMBED = Endpoint("Cohere embed", attr.OPERATION_EMBEDDINGS, read_result=readers.read_embed)


def targets(telemetry: Telemetry) -> Iterator[tuple[str, str, Any]]:
    """(module, "Class.method", wrapper) for every traced method."""
    patches = MethodPatches(telemetry, start_attributes, readers.capture_input)
    yield _MODULE, "V2Client.chat", patches.sync(CHAT)
    yield _MODULE, "V2Client.chat_stream", patches.sync(CHAT_STREAM)
    yield _MODULE, "V2Client.embed", patches.sync(EMBED)
    yield _MODULE, "AsyncV2Client.chat", patches.coroutine(CHAT)
    yield _MODULE, "AsyncV2Client.chat_stream", patches.async_generator(CHAT_STREAM)
    yield _MODULE, "AsyncV2Client.embed", patches.coroutine(EMBED)


def start_attributes(endpoint: Endpoint, client: Any, kwargs: dict) -> dict:
    address, port = server_of(client._client_wrapper.get_base_url())
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
