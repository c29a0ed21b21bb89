"""Turn the bytes of an OTLP export (traces, metrics or logs: see `signals`) into its request message.

Protocol independent: the HTTP receiver uses all of it, the gRPC receiver only
`parse_protobuf` (gRPC decompresses and caps sizes itself).
"""
from __future__ import annotations

import base64
import json
import re
import zlib

from google.protobuf import json_format, message

from .signals import TRACES, Signal


class DecodeError(Exception):
    """The request cannot be decoded: HTTP 400, gRPC INVALID_ARGUMENT.

    `field` names the offending field (its JSON path) when one is known."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class PayloadTooLarge(Exception):
    """The request, as sent or once decompressed, is over the size cap: HTTP 413, gRPC RESOURCE_EXHAUSTED."""


# Content-Encoding values we can undo, mapped to zlib's `wbits` for the format.
_ZLIB_WBITS = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    # HTTP's "deflate" is the zlib format; the OTel Python exporter offers it.
    "deflate": zlib.MAX_WBITS,
}
SUPPORTED_CONTENT_ENCODINGS = ("gzip", "deflate", "identity")

# Parsing a big body on a worker thread keeps the event loop answering other requests
# meanwhile. Measured: protobuf parses at about 300 MB/s, and sending 1 MiB bodies to a
# thread cost up to a third of throughput for nothing, so only very large ones go; JSON
# parses about 100 times slower, so all but small JSON bodies go.
PROTOBUF_THREAD_BYTES = 4 * 1024 * 1024
JSON_THREAD_BYTES = 32 * 1024

# Inflate in small steps of input and of output, so that memory never runs far past
# the cap and no step copies much.
_INPUT_STEP = 64 * 1024
_OUTPUT_STEP = 1024 * 1024


def is_supported_content_encoding(content_encoding: str | None) -> bool:
    name = (content_encoding or "").strip().lower()
    return name in ("", "identity") or name in _ZLIB_WBITS


def decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """Undo the request's Content-Encoding, refusing output larger than `max_bytes`.

    The output is produced step by step and the work stops as soon as it passes
    the cap, so a small "gzip bomb" never expands in memory."""
    name = (content_encoding or "").strip().lower()
    if name in ("", "identity"):
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"request body is {len(body)} bytes, over the limit of {max_bytes}")
        return body
    wbits = _ZLIB_WBITS.get(name)
    if wbits is None:
        raise DecodeError(f"unsupported Content-Encoding {content_encoding!r}; use gzip, deflate or none")
    if not body:
        return b""

    out = bytearray()
    rest = body
    while rest:
        # A gzip body may hold several members back to back; each needs a fresh decompressor.
        rest = _inflate_one(rest, wbits, name, out, max_bytes)
        if rest and wbits == _ZLIB_WBITS["deflate"]:
            raise DecodeError(f"{name} body has {len(rest)} bytes of trailing data")
    return bytes(out)


def _inflate_one(data: bytes, wbits: int, name: str, out: bytearray, max_bytes: int) -> bytes:
    """Inflate the compressed stream at the start of `data` into `out`; return what follows it."""
    decompressor = zlib.decompressobj(wbits)
    view = memoryview(data)
    position = 0
    pending = b""
    try:
        while not decompressor.eof:
            if not pending:
                pending = view[position : position + _INPUT_STEP]
                position += len(pending)
            room = max_bytes + 1 - len(out)
            chunk = decompressor.decompress(pending, min(room, _OUTPUT_STEP))
            consumed = len(pending) - len(decompressor.unconsumed_tail)
            pending = decompressor.unconsumed_tail
            out += chunk
            if len(out) > max_bytes:
                raise PayloadTooLarge(f"decompressed request is over the limit of {max_bytes} bytes")
            if not chunk and not consumed and not decompressor.eof:
                raise DecodeError(f"{name} body is truncated")
    except zlib.error as exc:
        raise DecodeError(f"{name} body is corrupt: {exc}") from None
    return decompressor.unused_data + view[position:].tobytes()


def parse_protobuf(data: bytes, signal: Signal = TRACES):
    name = signal.request_type.__name__
    try:
        return signal.request_type.FromString(data)
    except message.DecodeError as exc:
        raise DecodeError(f"not a valid protobuf {name}: {exc}") from None


def parse_json(data: bytes, signal: Signal = TRACES):
    """Parse OTLP/JSON: the protobuf JSON mapping, except that trace and span ids are hex."""
    name = signal.request_type.__name__
    try:
        document = json.loads(data)
    except RecursionError:
        raise DecodeError("JSON is nested too deeply") from None
    except ValueError as exc:  # also covers bytes that are not UTF-8/16/32
        raise DecodeError(f"invalid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DecodeError(f"expected a JSON object, got {type(document).__name__}")

    _hex_ids_to_base64(document, signal)
    try:
        return json_format.ParseDict(document, signal.request_type(), ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise DecodeError(f"not a valid OTLP/JSON {name}: {exc}") from None
    except RecursionError:
        raise DecodeError("JSON is nested too deeply") from None


_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


def _hex_ids_to_base64(document: dict, signal: Signal) -> None:
    """Rewrite every trace and span id from OTLP's hex to the base64 the protobuf parser expects.

    Without this the parser would silently base64-decode the hex text into wrong ids.
    Anything that is not shaped as expected is left for the parser to reject."""
    for path, holder, fields in signal.json_id_holders(document):
        _convert_ids(holder, fields, path)


def _convert_ids(obj: dict, fields: tuple[str, ...], path: str) -> None:
    for name in fields:
        value = obj.get(name)
        if value is None:
            continue
        where = f"{path}.{name}"
        if not isinstance(value, str):
            raise DecodeError(f"{where} must be a hex string, got {type(value).__name__}", where)
        if not _HEX.fullmatch(value):
            raise DecodeError(
                f"{where} is not hex: {value[:64]!r} (OTLP/JSON ids are hex, not base64)", where
            )
        obj[name] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
