"""Rows as ClickHouse's RowBinaryWithNamesAndTypes: the bytes the log keeps and the store takes as they are.

A layout (`Layout`) is a table's columns with their ClickHouse types, as the migrations
declare them (a test holds the two together). `layout.header` names the columns and their
types; rows follow, each column as RowBinary writes it: strings length-prefixed (LEB128),
integers little-endian, Nullable with a 0/1 byte before, arrays and maps with their length
first, Decimal(P, S) as the integer value × 10^S, DateTime64(9) as int nanoseconds. With
the header the store checks every column's type before it takes a row, so bytes logged
by one version are read right by the next, or refused whole.

Only the types llmledger writes are here; each is one small function.
"""
from __future__ import annotations

import re
import struct
from decimal import Decimal
from typing import Callable

Encode = Callable[[object], bytes]

# LEB128 lengths below 128 are one byte: most strings here.
_SHORT_LENGTHS = [bytes([n]) for n in range(128)]


def varint(n: int) -> bytes:
    if n < 128:
        return _SHORT_LENGTHS[n]
    out = bytearray()
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def string(value: str) -> bytes:
    data = value.encode()
    return varint(len(data)) + data


def raw_string(data: bytes) -> bytes:
    return varint(len(data)) + data


_FIXED = {"UInt8": "<B", "UInt16": "<H", "UInt32": "<I", "UInt64": "<Q", "Int8": "<b", "Int16": "<h",
          "Int32": "<i", "Int64": "<q", "Float32": "<f", "Float64": "<d", "Bool": "<?", "DateTime64(9)": "<q",
          "DateTime": "<I"}
_WRAPPED = re.compile(r"^(\w+)\((.*)\)$")


def encoder(type_name: str) -> Encode:
    """The function writing one value of `type_name` (e.g. "Map(LowCardinality(String), String)")."""
    type_name = type_name.strip()
    if type_name == "String":
        return string
    if type_name in _FIXED:
        return struct.Struct(_FIXED[type_name]).pack
    match = _WRAPPED.match(type_name)
    if not match:
        raise ValueError(f"no RowBinary encoder for {type_name!r}")
    kind, inner = match.groups()
    if kind == "LowCardinality":  # a storage detail: written as the type it wraps
        return encoder(inner)
    if kind == "Nullable":
        encode = encoder(inner)
        return lambda value: b"\x01" if value is None else b"\x00" + encode(value)
    if kind == "Array":
        encode = encoder(inner)
        return lambda values: varint(len(values)) + b"".join(map(encode, values))
    if kind == "Map":
        key_type, value_type = _split_arguments(inner)
        if key_type in ("String", "LowCardinality(String)") and value_type == "String":
            return string_map
        encode_key, encode_value = encoder(key_type), encoder(value_type)
        if key_type == "LowCardinality(String)":  # names that repeat (cost components): encoded once
            keys = _Strings()
            encoded, add = keys.encoded, keys.add

            def encode_named_map(mapping) -> bytes:
                parts = [varint(len(mapping))]
                for key, value in mapping.items():
                    parts += (encoded.get(key) or add(key), encode_value(value))
                return b"".join(parts)
            return encode_named_map

        def encode_map(mapping) -> bytes:
            parts = [varint(len(mapping))]
            for key, value in mapping.items():
                parts += (encode_key(key), encode_value(value))
            return b"".join(parts)
        return encode_map
    if kind == "Decimal":
        precision, scale = (int(part) for part in _split_arguments(inner))
        return _decimal_encoder(precision, scale)
    raise ValueError(f"no RowBinary encoder for {type_name!r}")


def string_map(mapping: dict[str, str]) -> bytes:
    """Map(String, String), the attribute maps: the hot path, so written out flat."""
    return string_map_parts(mapping, [varint(len(mapping))])


def string_map_parts(mapping: dict[str, str], parts: list) -> bytes:
    """The entries of `mapping` appended to `parts` (which holds what goes before them), joined."""
    keys = _KEYS.encoded
    add_key = _KEYS.add
    add = parts.append
    short = _SHORT_LENGTHS
    for key, value in mapping.items():
        add(keys.get(key) or add_key(key))  # attribute names repeat from span to span
        data = value.encode()
        size = len(data)
        add(short[size] if size < 128 else varint(size))
        add(data)
    return b"".join(parts)


def _decimal_encoder(precision: int, scale: int) -> Encode:
    size = 4 if precision <= 9 else 8 if precision <= 18 else 16 if precision <= 38 else 32

    def encode(value: Decimal) -> bytes:
        # Truncated, as clickhouse-connect writes it; exact for the 12 decimals money has.
        return int(value.scaleb(scale)).to_bytes(size, "little", signed=True)
    return encode


def _split_arguments(text: str) -> list[str]:
    """"LowCardinality(String), Decimal(38, 12)" -> the two types, split at the top-level comma."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts


class _Strings:
    """Encoded strings seen before: columns and map keys that repeat (names, models, kinds) are
    encoded once. Bounded: when full it starts over."""

    def __init__(self, capacity: int = 4096):
        self._capacity = capacity
        self.encoded: dict[str, bytes] = {}

    def add(self, value: str) -> bytes:
        encoded = self.encoded
        if len(encoded) >= self._capacity:
            encoded.clear()
        data = value.encode()
        encoded[value] = result = varint(len(data)) + data
        return result


_KEYS = _Strings()


class Layout:
    """A table's columns and their types: the header of a RowBinaryWithNamesAndTypes block,
    and `encode_row`, compiled for those types (rows are encoded by the tens of thousands a
    second: one function with every column inlined, no call per value)."""

    def __init__(self, table: str, columns: tuple[tuple[str, str], ...]):
        self.table = table
        self.names = tuple(name for name, _ in columns)
        self.types = tuple(type_name for _, type_name in columns)
        self.header = varint(len(columns)) + b"".join(map(string, self.names)) + b"".join(map(string, self.types))
        self.encode_row = _compile(self.types)

    def encode_rows(self, rows) -> bytes:
        encode_row = self.encode_row
        return b"".join([encode_row(row) for row in rows])

    def columns_encoder(self, start: int, stop: int) -> Callable[[object], bytes]:
        """An encoder of the values of columns start..stop-1 only (a row's slice)."""
        return _compile(self.types[start:stop])


def _compile(types: tuple[str, ...]) -> Callable[[object], bytes]:
    """Python source for one row of these types, then the function it defines."""
    names = {"varint": varint, "short": _SHORT_LENGTHS, "string_map": string_map}
    lines = ["def encode_row(row):", f"    ({', '.join(f'v{i}' for i in range(len(types)))},) = row",
             "    out = []", "    add = out.append"]
    fixed: list[tuple[int, str]] = []  # a run of fixed-width columns, packed together

    def flush_fixed():
        if fixed:
            pack = f"pack{len(names)}"
            names[pack] = struct.Struct("<" + "".join(code[1:] for _, code in fixed)).pack
            lines.append(f"    add({pack}({', '.join(f'v{i}' for i, _ in fixed)}))")
            fixed.clear()

    for index, type_name in enumerate(types):
        bare = type_name[len("LowCardinality("):-1] if type_name.startswith("LowCardinality(") else type_name
        if bare in _FIXED:
            fixed.append((index, _FIXED[bare]))
            continue
        flush_fixed()
        value = f"v{index}"
        function = f"encode{index}"
        names[function] = encoder(type_name)
        if bare == "String" and type_name != bare:  # a repeating value: encoded once
            cache = _Strings()
            names[f"seen{index}"], names[f"add{index}"] = cache.encoded, cache.add
            lines.append(f"    add(seen{index}.get({value}) or add{index}({value}))")
        elif bare == "String":
            lines += [f"    b = {value}.encode()", "    n = len(b)",
                      "    add(short[n] if n < 128 else varint(n))", "    add(b)"]
        elif names[function] is string_map:  # given as bytes: encoded already (a map many rows share)
            lines.append(f"    add({value} if {value}.__class__ is bytes else string_map({value}))")
        elif bare.startswith(("Array(", "Map(")):  # mostly empty: no call for those
            lines.append(f"    add({function}({value}) if {value} else b'\\x00')")
        elif bare.startswith("Nullable("):
            inner = f"inner{index}"
            names[inner] = encoder(bare[len("Nullable("):-1])
            lines.append(f"    add(b'\\x01' if {value} is None else b'\\x00' + {inner}({value}))")
        else:
            lines.append(f"    add({function}({value}))")
    flush_fixed()
    lines.append('    return b"".join(out)')
    exec("\n".join(lines), names)  # noqa: S102 - source built above from the column types only
    return names["encode_row"]
