"""``line_endings``: write SSE line breaks as CRLF or CR instead of LF (all legal in SSE).

JSON payloads never contain a raw line break, so every line break on the wire is framing. A
format that already frames with CRLF (Gemini) is normalised to LF first, never ``\r\r\n``.
Binary frames (an AWS event stream message, Bedrock) have no line breaks and are left alone: a
0x0A byte there is part of a length or checksum.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from ..encoders.base import Frame, Item
from ..eventstream import is_message
from .base import Fault


@dataclass(frozen=True)
class LineEndingsFault(Fault, type="line_endings"):
    summary = "use CRLF or CR line endings in the SSE framing"
    style: Literal["crlf", "cr"] = "crlf"

    def shape(self, items: Iterator[Item]) -> Iterator[Item]:
        new = b"\r\n" if self.style == "crlf" else b"\r"
        for item in items:
            if isinstance(item, Frame) and not is_message(item.data):
                item = Frame(item.at, item.data.replace(b"\r\n", b"\n").replace(b"\n", new))
            yield item
