"""Decoding OTLP bodies: the OTLP/JSON rules, protobuf, and bounded decompression."""
from __future__ import annotations

import gzip
import json
import zlib

import pytest
from receiver_payloads import (
    PARENT_ID_HEX,
    SPAN_ID_HEX,
    TRACE_ID_HEX,
    expected_request,
    gzip_of_zeros,
    otlp_json_bytes,
    otlp_json_document,
    snake_case_keys,
)

from llmledger.processor.receivers.decode import (
    DecodeError,
    PayloadTooLarge,
    decompress,
    parse_json,
    parse_protobuf,
)

MiB = 1024 * 1024


# --- OTLP/JSON --------------------------------------------------------------------------


def test_json_with_hex_ids_camel_case_int64_strings_and_integer_enums():
    request = parse_json(otlp_json_bytes())

    assert request == expected_request()
    span = request.resource_spans[0].scope_spans[0].spans[0]
    # The ids are the bytes the hex spells, not a base64 reading of the hex text.
    assert span.trace_id.hex() == TRACE_ID_HEX.lower()
    assert span.span_id.hex() == SPAN_ID_HEX
    assert span.parent_span_id.hex() == PARENT_ID_HEX


def test_json_with_proto_field_names_decodes_the_same():
    document = snake_case_keys(otlp_json_document())
    assert "trace_id" in document["resource_spans"][0]["scope_spans"][0]["spans"][0]

    assert parse_json(json.dumps(document).encode()) == expected_request()


def test_json_without_optional_ids_leaves_them_empty():
    document = otlp_json_document()
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    del span["parentSpanId"]
    span["links"][0]["spanId"] = ""

    decoded = parse_json(json.dumps(document).encode()).resource_spans[0].scope_spans[0].spans[0]

    assert decoded.parent_span_id == b""
    assert decoded.links[0].span_id == b""
    assert decoded.trace_id == bytes.fromhex(TRACE_ID_HEX)


@pytest.mark.parametrize(
    ("where", "bad_id"),
    [
        ("traceId", "W47/95gDgQPSabYzgT/GDA=="),  # base64, as the plain protobuf JSON mapping writes it
        ("spanId", "eee19b7ec3c1b17"),  # odd number of digits
        ("parentSpanId", "zz19b7ec3c1b1744"),
        ("spanId", "eee19b7e c3c1b174"),  # bytes.fromhex would skip the space; OTLP does not
    ],
)
def test_json_with_bad_hex_id_is_a_decode_error_naming_the_field(where, bad_id):
    document = otlp_json_document()
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0][where] = bad_id

    with pytest.raises(DecodeError, match="not hex") as error:
        parse_json(json.dumps(document).encode())
    assert error.value.field == f"resourceSpans[0].scopeSpans[0].spans[0].{where}"


def test_json_with_bad_link_id_names_the_link():
    document = otlp_json_document()
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["links"][0]["traceId"] = "not-hex"

    with pytest.raises(DecodeError) as error:
        parse_json(json.dumps(document).encode())
    assert error.value.field == "resourceSpans[0].scopeSpans[0].spans[0].links[0].traceId"


def test_json_id_that_is_not_a_string_is_a_decode_error():
    document = otlp_json_document()
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = 1234

    with pytest.raises(DecodeError, match="spanId must be a hex string"):
        parse_json(json.dumps(document).encode())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"resourceSpans": [', "invalid JSON"),
        (b"\xff\xfe\xfa not utf-8", "invalid JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'{"resourceSpans": 5}', "ExportTraceServiceRequest"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
            "startTimeUnixNano",
        ),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_json_is_a_decode_error_that_says_what_is_wrong(body, message):
    with pytest.raises(DecodeError, match=message):
        parse_json(body)


# --- protobuf ---------------------------------------------------------------------------


def test_protobuf_round_trips():
    request = expected_request()
    assert parse_protobuf(request.SerializeToString()) == request


def test_truncated_protobuf_is_a_decode_error():
    data = expected_request().SerializeToString()
    with pytest.raises(DecodeError, match="not a valid protobuf"):
        parse_protobuf(data[: len(data) // 2])


def test_protobuf_with_invalid_utf8_in_a_string_field_is_a_decode_error():
    # ExportTraceServiceRequest.resource_spans(1) > ResourceSpans.schema_url(3) = b"\xff"
    inner = b"\x1a\x01\xff"
    data = b"\x0a" + bytes([len(inner)]) + inner
    with pytest.raises(DecodeError):
        parse_protobuf(data)


# --- decompression ----------------------------------------------------------------------


def test_gzip_and_deflate_and_identity_bodies_come_back_unchanged():
    data = expected_request().SerializeToString() * 50

    assert decompress(gzip.compress(data), "gzip", MiB) == data
    assert decompress(gzip.compress(data), " GZIP ", MiB) == data
    assert decompress(zlib.compress(data), "deflate", MiB) == data
    assert decompress(data, None, MiB) == data
    assert decompress(data, "identity", MiB) == data


def test_gzip_body_of_several_members_is_decompressed_whole():
    assert decompress(gzip.compress(b"first ") + gzip.compress(b"second"), "gzip", MiB) == b"first second"


def test_output_exactly_at_the_cap_is_accepted_and_one_byte_more_is_not():
    data = b"x" * 1000
    assert decompress(gzip.compress(data), "gzip", 1000) == data
    with pytest.raises(PayloadTooLarge):
        decompress(gzip.compress(data), "gzip", 999)
    with pytest.raises(PayloadTooLarge):
        decompress(data, None, 999)


def test_the_gzip_bomb_helper_makes_valid_gzip():
    assert gzip.decompress(gzip_of_zeros(3 * MiB)) == bytes(3 * MiB)


def test_gzip_bomb_stops_at_the_cap():
    bomb = gzip_of_zeros(1024 * MiB)  # 1 GiB of zeros in about 1 MB
    assert len(bomb) < 2 * MiB

    with pytest.raises(PayloadTooLarge, match="decompressed request is over the limit of 16777216 bytes"):
        decompress(bomb, "gzip", 16 * MiB)


@pytest.mark.parametrize(
    ("body", "encoding", "message"),
    [
        (gzip.compress(b"hello world")[:-4], "gzip", "gzip body is truncated"),
        (gzip.compress(b"hello world")[:5], "gzip", "gzip body is truncated"),
        (b"definitely not gzip", "gzip", "gzip body is corrupt"),
        (gzip.compress(b"hello") + b"trailing junk", "gzip", "gzip body is corrupt"),
        (zlib.compress(b"hello") + b"junk", "deflate", "trailing data"),
        (b"hello", "br", "unsupported Content-Encoding 'br'"),
    ],
)
def test_bad_compressed_bodies_are_decode_errors(body, encoding, message):
    with pytest.raises(DecodeError, match=message):
        decompress(body, encoding, MiB)
