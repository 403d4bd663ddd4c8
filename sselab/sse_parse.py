"""An incremental, WHATWG-conformant SSE decoder: feed it bytes split anywhere.

It carries partial lines and partial UTF-8 characters across ``feed`` calls, accepts LF, CRLF
and bare CR line endings (a CRLF split between two reads counts once), ignores comments, and
strips one leading space from a field value. sselab uses it in its own tests and checks; it is
also a reference for what a correct client does.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


@dataclass
class SSEDecoder:
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")())
    _buf: str = ""
    _skip_lf: bool = False  # the last read ended in CR: a leading LF belongs to it
    _data: list[str] = field(default_factory=list)
    _event: str = ""
    _id: str | None = None
    _retry: int | None = None
    _has_data: bool = False
    comments: int = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode one read; return the events it completed."""
        text = self._decoder.decode(chunk)
        if self._skip_lf and text.startswith("\n"):
            text = text[1:]
        if text:
            self._skip_lf = False
        self._buf += text
        out: list[SSEEvent] = []
        while True:
            cut = _line_end(self._buf)
            if cut is None:
                break
            end, nxt = cut
            if nxt is None:  # a CR at the very end: it may be half of a CRLF
                line, self._buf, self._skip_lf = self._buf[:end], "", True
            else:
                line, self._buf = self._buf[:end], self._buf[nxt:]
            event = self._line(line)
            if event is not None:
                out.append(event)
        return out

    def close(self) -> list[SSEEvent]:
        """End of stream: an unterminated event is dropped, as the spec says."""
        self._decoder.decode(b"", final=True)
        return []

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._has_data:
            self._event = ""
            return None
        event = SSEEvent("\n".join(self._data), self._event or "message", self._id, self._retry)
        self._data, self._event, self._has_data = [], "", False
        return event


def _line_end(buf: str) -> tuple[int, int | None] | None:
    """(end of the first line, start of the next) or None; next is None for a trailing CR."""
    lf, cr = buf.find("\n"), buf.find("\r")
    if cr == -1 and lf == -1:
        return None
    if cr == -1 or (lf != -1 and lf < cr):
        return lf, lf + 1
    if cr + 1 < len(buf):
        return cr, cr + 2 if buf[cr + 1] == "\n" else cr + 1
    return cr, None


def parse(chunks: Iterable[bytes]) -> Iterator[SSEEvent]:
    """Every complete event in a stream of byte chunks."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()
