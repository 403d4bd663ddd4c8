"""Server-Sent Events, both ways: an incremental parser for the upstream and a frame writer for
the browser.

:class:`SSEParser` takes the upstream body in whatever pieces the network delivers (one byte at
a time, a frame and a half, a UTF-8 character cut in two) and returns complete events. It splits
lines on the raw bytes (LF, CRLF or bare CR, a CRLF split across two reads counting once) and
decodes a line only when it is complete: CR and LF never occur inside a multi-byte UTF-8
sequence, so a character cut by the network is always whole again by then. Comments (``:``
lines) are counted and skipped; one space after the colon is stripped, as the WHATWG spec says.

:func:`frame` and :func:`comment` build the bytes sent to the browser (see ``reference_app``'s
docstring for the protocol).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_EOL = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str = "message"


@dataclass
class SSEParser:
    comments: int = 0
    _partial: bytearray = field(default_factory=bytearray)  # an unterminated line
    _skip_lf: bool = False  # the last read ended in CR: an LF opening the next one belongs to it
    _started: bool = False  # a leading byte-order mark is dropped once
    _data: list[str] = field(default_factory=list)
    _event: str = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Parse one read of the body; return the events it completed (often none)."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        events: list[SSEEvent] = []
        pos = 0
        for m in _EOL.finditer(chunk):
            line = chunk[pos:m.start()]
            if self._partial:
                line = bytes(self._partial) + line
                self._partial.clear()
            pos = m.end()
            if pos == len(chunk) and m.group() == b"\r":
                self._skip_lf = True
            event = self._line(line.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        self._partial += chunk[pos:]
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not self._started:
            self._started = True
            line = line.removeprefix("\ufeff")
        if not line:  # a blank line ends the event
            data, event = self._data, self._event or "message"
            self._data, self._event = [], ""
            return SSEEvent("\n".join(data), event) if data else None
        if line.startswith(":"):
            self.comments += 1
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        # id and retry matter to EventSource reconnection only; unknown fields are ignored
        return None


def frame(event: str, payload: dict[str, Any], id: str | None = None) -> bytes:
    """One event for the browser: ``event: NAME``, an optional ``id: ID`` (what the browser
    sends back as ``Last-Event-ID`` to resume) and one ``data:`` line of compact JSON.

    JSON escapes line breaks inside strings, so the data is always a single line."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" + (f"id: {id}\n" if id is not None else "")
    return f"{head}data: {data}\n\n".encode()


def comment(text: str = "keep-alive") -> bytes:
    """An SSE comment: readers ignore it, proxies and idle timers see traffic."""
    return f": {text}\n\n".encode()
