"""Bodies for the receiver tests: one OTLP/JSON trace export written by hand from the
OTLP/JSON rules with the protobuf message it must decode to (also built by hand), and a
gzip bomb."""
from __future__ import annotations

import copy
import json
import struct
import zlib

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

TRACE_ID_HEX = "5B8EFFF798038103D269B633813FC60C"  # upper case: OTLP hex is case-insensitive
SPAN_ID_HEX = "eee19b7ec3c1b174"
PARENT_ID_HEX = "eee19b7ec3c1b173"
LINKED_TRACE_HEX = "0af7651916cd43dd8448eb211c80319c"
LINKED_SPAN_HEX = "b7ad6b7169203331"

OTLP_JSON = {
    "resourceSpans": [
        {
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}],
                "droppedAttributesCount": 1,
            },
            "scopeSpans": [
                {
                    "scope": {"name": "llmledger.instrumentation.openai", "version": "0.1.0"},
                    "spans": [
                        {
                            "traceId": TRACE_ID_HEX,
                            "spanId": SPAN_ID_HEX,
                            "parentSpanId": PARENT_ID_HEX,
                            "name": "chat gpt-4o-mini",
                            "kind": 3,  # enums are integers in OTLP/JSON: SPAN_KIND_CLIENT
                            "startTimeUnixNano": "1544712660000000000",  # 64-bit as a string ...
                            "endTimeUnixNano": 1544712661000000000,  # ... or as a number
                            "attributes": [
                                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1200"}},
                                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 300}},
                                {"key": "gen_ai.request.temperature", "value": {"doubleValue": 0.5}},
                                {"key": "gen_ai.request.stream", "value": {"boolValue": True}},
                                {
                                    "key": "gen_ai.response.finish_reasons",
                                    "value": {"arrayValue": {"values": [{"stringValue": "stop"}]}},
                                },
                            ],
                            "links": [{"traceId": LINKED_TRACE_HEX, "spanId": LINKED_SPAN_HEX}],
                            "status": {"code": 2, "message": "rate limited"},
                            "aFieldFromAFutureVersion": {"nested": [1, 2, 3]},  # unknown: ignored
                        }
                    ],
                }
            ],
            "schemaUrl": "https://opentelemetry.io/schemas/1.30.0",
        }
    ],
    "someUnknownTopLevelField": "ignored",
}


def expected_request() -> ExportTraceServiceRequest:
    def attribute(key, **value):
        return KeyValue(key=key, value=AnyValue(**value))

    span = Span(
        trace_id=bytes.fromhex(TRACE_ID_HEX),
        span_id=bytes.fromhex(SPAN_ID_HEX),
        parent_span_id=bytes.fromhex(PARENT_ID_HEX),
        name="chat gpt-4o-mini",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=1544712660000000000,
        end_time_unix_nano=1544712661000000000,
        attributes=[
            attribute("gen_ai.usage.input_tokens", int_value=1200),
            attribute("gen_ai.usage.output_tokens", int_value=300),
            attribute("gen_ai.request.temperature", double_value=0.5),
            attribute("gen_ai.request.stream", bool_value=True),
            attribute("gen_ai.response.finish_reasons",
                      array_value=ArrayValue(values=[AnyValue(string_value="stop")])),
        ],
        links=[Span.Link(trace_id=bytes.fromhex(LINKED_TRACE_HEX), span_id=bytes.fromhex(LINKED_SPAN_HEX))],
        status=Status(code=Status.STATUS_CODE_ERROR, message="rate limited"),
    )
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(
                    attributes=[attribute("service.name", string_value="checkout")], dropped_attributes_count=1
                ),
                scope_spans=[
                    ScopeSpans(
                        scope=InstrumentationScope(name="llmledger.instrumentation.openai", version="0.1.0"),
                        spans=[span],
                    )
                ],
                schema_url="https://opentelemetry.io/schemas/1.30.0",
            )
        ]
    )


def otlp_json_bytes() -> bytes:
    return json.dumps(OTLP_JSON).encode("utf-8")


def otlp_json_document() -> dict:
    """A copy the caller may change."""
    return copy.deepcopy(OTLP_JSON)


def snake_case_keys(value):
    """The same document with the proto field names (trace_id, scope_spans, ...) as keys."""
    if isinstance(value, list):
        return [snake_case_keys(item) for item in value]
    if isinstance(value, dict):
        return {_snake(key): snake_case_keys(item) for key, item in value.items()}
    return value


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def gzip_of_zeros(size: int) -> bytes:
    """A valid gzip body of `size` zero bytes (a multiple of 1 MiB), built without compressing
    them all: one deflated MiB of zeros, flushed to a byte boundary, repeats as is, since its
    back-references only ever point at zeros."""
    mib = 1024 * 1024
    zeros = bytes(mib)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_SYNC_FLUSH)
    crc = 0
    for _ in range(size // mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # gzip, deflate, no name, no mtime
    final_empty_block = b"\x03\x00"
    return header + block * (size // mib) + final_empty_block + struct.pack("<II", crc, size % 2**32)
