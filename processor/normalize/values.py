"""OTLP attribute values as text, exactly as the Collector's ClickHouse exporter writes them.

The exporter stores every attribute as a string (pdata `Value.AsString()`): strings
as they are, ints in decimal, bools `true`/`false`, doubles in the ES6 style of Go's
JSON encoder, bytes in base64, arrays and key-value lists as Go-encoded JSON. Rows
written here must read the same as rows the exporter writes into a shared table.
"""
from __future__ import annotations

import base64
import math
import re
from decimal import Decimal
from json.encoder import encode_basestring as encode_json_string

# Go's JSON encoder escapes these (HTML safety); Python's does not.
_GO_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_NEEDS_GO_ESCAPE = re.compile("[<>&\u2028\u2029]")


class _Unencodable(Exception):
    """Go's json.Marshal fails on NaN and infinities; AsString then yields ""."""


def go_float(value: float) -> str:
    """A double as Go's pdata writes it: shortest round-trip digits, plain notation
    for 1e-6 <= |x| < 1e21, exponent notation outside that range."""
    if math.isnan(value):
        return "json: unsupported value: NaN"
    if math.isinf(value):
        return "json: unsupported value: " + ("+Inf" if value > 0 else "-Inf")
    text = repr(value)  # shortest digits that round-trip, like Go's FormatFloat(-1)
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        # Python and Go agree on "1.5e+21" / "1e-07"; Go then trims "e-07" to "e-7".
        mantissa, exponent = text.split("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
        return f"{mantissa}e{sign}{digits.zfill(2) if sign == '+' else digits}"
    if "e" in text:
        # Python switches to exponent notation earlier than Go (|x| < 1e-4 or >= 1e16).
        return format(Decimal(text).normalize(), "f")
    return text[:-2] if text.endswith(".0") else text


def _json_string(text: str) -> str:
    encoded = encode_json_string(text)  # quotes and escapes like json.dumps(ensure_ascii=False)
    if _NEEDS_GO_ESCAPE.search(encoded):
        encoded = _NEEDS_GO_ESCAPE.sub(lambda match: _GO_HTML_ESCAPES[match.group()], encoded)
    return encoded


def _json(value) -> str:
    """One AnyValue as Go's json.Marshal writes its AsRaw() form."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return _json_string(value.string_value)
    if kind == "int_value":
        return str(value.int_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "double_value":
        number = value.double_value
        if math.isnan(number) or math.isinf(number):
            raise _Unencodable()
        return go_float(number)
    if kind == "array_value":
        return "[" + ",".join(_json(item) for item in value.array_value.values) + "]"
    if kind == "kvlist_value":
        # A Go map: the last duplicate key wins and keys come out sorted.
        members = {kv.key: kv.value for kv in value.kvlist_value.values}
        return "{" + ",".join(_json_string(key) + ":" + _json(members[key]) for key in sorted(members)) + "}"
    if kind == "bytes_value":
        return '"' + base64.b64encode(value.bytes_value).decode("ascii") + '"'
    return "null"


def any_value_text(value) -> str:
    """Any OTLP AnyValue as text (pdata's AsString)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return str(value.int_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "double_value":
        return go_float(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind is None:
        return ""
    try:
        return _json(value)
    except _Unencodable:
        return ""


def attributes_text(key_values) -> dict[str, str]:
    """A repeated KeyValue as the exporter's Map(String, String); the last duplicate key wins.

    This runs for every attribute of every span, so the common kinds skip the type
    dispatch: `value` is a oneof, so a non-empty `string_value` or a non-zero
    `int_value` / `double_value` can only come from an attribute of that kind.
    """
    texts = {}
    for kv in key_values:
        value = kv.value
        text = value.string_value
        if not text:
            number = value.int_value
            if number:
                text = str(number)
            else:
                number = value.double_value
                text = go_float(number) if number else any_value_text(value)
        texts[kv.key] = text
    return texts
