"""AWS event stream framing (``application/vnd.amazon.eventstream``): encode and decode.

One message::

    total length (uint32) | headers length (uint32) | prelude CRC32 (of the 8 bytes before)
    headers: name length (uint8) | name | value type (uint8, 7 = string) | length (uint16) | value
    payload
    message CRC32 (of every byte before it)

All integers are big-endian. sselab writes string headers only (``:event-type``,
``:content-type``, ``:message-type``, ``:exception-type``), as Bedrock does; :class:`Decoder`
reads every header type botocore knows, so it can read any relayed stream.
"""

from __future__ import annotations

import struct
import uuid
from binascii import crc32
from collections.abc import Iterator
from dataclasses import dataclass, field

PRELUDE = 12
_STRING = 7
# value type -> (fixed size, struct format) for the fixed-size header types
_FIXED = {0: (0, ""), 1: (0, ""), 2: (1, ">b"), 3: (2, ">h"), 4: (4, ">i"), 5: (8, ">q"),
          8: (8, ">q"), 9: (16, "")}


class FramingError(ValueError):
    """Bytes that are not an event stream message (bad length or checksum)."""


def message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One message with string ``headers`` (in order) and ``payload``."""
    head = b"".join(_header(name, value) for name, value in headers)
    total = PRELUDE + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    body = prelude + struct.pack(">I", crc32(prelude)) + head + payload
    return body + struct.pack(">I", crc32(body))


def _header(name: str, value: str) -> bytes:
    key, val = name.encode(), value.encode()
    return struct.pack(">B", len(key)) + key + struct.pack(">BH", _STRING, len(val)) + val


def event(event_type: str, payload: bytes) -> bytes:
    return message([(":event-type", event_type), (":content-type", "application/json"),
                    (":message-type", "event")], payload)


def exception(exception_type: str, payload: bytes) -> bytes:
    return message([(":exception-type", exception_type), (":content-type", "application/json"),
                    (":message-type", "exception")], payload)


def is_message(data: bytes) -> bool:
    """Whether ``data`` is exactly one message (its length and prelude checksum agree)."""
    return (len(data) >= PRELUDE + 4 and struct.unpack_from(">I", data)[0] == len(data)
            and crc32(data[:8]) == struct.unpack_from(">I", data, 8)[0])


def corrupt(data: bytes) -> bytes:
    """The same message with its last byte (the message CRC's) flipped: a checksum error."""
    return data[:-1] + bytes([data[-1] ^ 0xFF]) if data else data


@dataclass
class Message:
    headers: dict[str, object]
    payload: bytes


@dataclass
class Decoder:
    """Incremental: ``feed(bytes) -> [Message]``, or ``add(bytes)`` then iterate; raises
    :class:`FramingError` on bad bytes (iterating yields the good messages before them)."""

    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Message]:
        self.add(data)
        return list(self)

    def add(self, data: bytes) -> None:
        self._buf += data

    def __iter__(self) -> Iterator[Message]:
        while len(self._buf) >= PRELUDE:
            total, head_len, prelude_crc = struct.unpack_from(">III", self._buf)
            if crc32(bytes(self._buf[:8])) != prelude_crc:
                raise FramingError("event stream prelude checksum mismatch")
            if total < PRELUDE + 4 + head_len:
                raise FramingError(f"event stream message length {total} is too short")
            if len(self._buf) < total:
                break
            raw = bytes(self._buf[:total])
            del self._buf[:total]
            if crc32(raw[:-4]) != struct.unpack(">I", raw[-4:])[0]:
                raise FramingError("event stream message checksum mismatch")
            yield Message(_headers(raw[PRELUDE:PRELUDE + head_len]), raw[PRELUDE + head_len:-4])

    @property
    def pending(self) -> int:
        return len(self._buf)


def _headers(data: bytes) -> dict[str, object]:
    headers: dict[str, object] = {}
    pos = 0
    while pos < len(data):
        n = data[pos]
        name = data[pos + 1:pos + 1 + n].decode()
        kind = data[pos + 1 + n]
        pos += 2 + n
        value: object
        if kind in (6, _STRING):
            (length,) = struct.unpack_from(">H", data, pos)
            raw = data[pos + 2:pos + 2 + length]
            value, pos = (raw.decode() if kind == _STRING else raw), pos + 2 + length
        elif kind in _FIXED:
            size, fmt = _FIXED[kind]
            chunk = data[pos:pos + size]
            value = (kind == 0) if kind in (0, 1) else (
                str(uuid.UUID(bytes=chunk)) if kind == 9 else struct.unpack(fmt, chunk)[0])
            pos += size
        else:
            raise FramingError(f"event stream header {name!r}: unknown value type {kind}")
        headers[name] = value
    return headers
