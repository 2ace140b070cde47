"""Just enough of the protobuf wire format to move fields between two dialects of one message, and to
read the identifying fields of a message that does not parse.

A message is a list of ``(number, wire_type, value)``: ``value`` is an int for varints and fixed
fields, bytes for length-delimited ones (strings, bytes, nested messages, map entries).
"""

from __future__ import annotations

from emulator.engine.events import varint as _put_varint

VARINT, I64, LEN, I32 = 0, 1, 2, 5

Field = tuple[int, int, object]


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def parse(data: bytes) -> list[Field]:
    return list(_scan(data))


def leading_strings(data: bytes) -> dict[int, str]:
    """The length-delimited fields before the first damage in ``data``, as text (a field seen twice:
    the last). For naming the work item of a message that does not parse."""
    found: dict[int, str] = {}
    try:
        for number, kind, value in _scan(data):
            if kind == LEN:
                found[number] = value.decode("utf-8", "replace")
    except ValueError:
        pass
    return found


def _scan(data: bytes):
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, kind = key >> 3, key & 7
        if kind == VARINT:
            value, i = _varint(data, i)
        elif kind == I64:
            value, i = int.from_bytes(data[i : i + 8], "little"), i + 8
        elif kind == I32:
            value, i = int.from_bytes(data[i : i + 4], "little"), i + 4
        elif kind == LEN:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
            if i > len(data):
                raise ValueError("truncated length-delimited field")
        else:
            raise ValueError(f"unsupported wire type {kind}")
        yield number, kind, value


def encode(fields: list[Field]) -> bytes:
    out = bytearray()
    for number, kind, value in fields:
        out += _put_varint(number << 3 | kind)
        if kind == VARINT:
            out += _put_varint(value)
        elif kind == I64:
            out += value.to_bytes(8, "little")
        elif kind == I32:
            out += value.to_bytes(4, "little")
        else:
            out += _put_varint(len(value)) + value
    return bytes(out)


def string(number: int, text: str) -> Field:
    return (number, LEN, text.encode())


def map_entry(number: int, key: str, value: str) -> Field:
    """One entry of a ``map<string, string>`` field."""
    return (number, LEN, encode([string(1, key), string(2, value)]))


def first(fields: list[Field], number: int) -> bytes | None:
    """The first length-delimited field ``number`` (a string, bytes or a nested message), or None."""
    return next((v for n, k, v in fields if n == number and k == LEN), None)


def map_items(fields: list[Field], number: int) -> dict[str, str]:
    items = {}
    for n, kind, value in fields:
        if n == number and kind == LEN:
            entry = {k: v for k, _, v in parse(value)}
            items[entry.get(1, b"").decode()] = entry.get(2, b"").decode()
    return items
