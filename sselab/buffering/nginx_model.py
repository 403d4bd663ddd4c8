"""nginx's buffered proxy pipe (``proxy_buffering on``) as a pure state machine.

What it reproduces, as measured against nginx 1.22 (docs/nginx-characterisation.md) and as
nginx's event pipe is written:

* The upstream's body is read into raw buffers. The first is the header buffer
  (``proxy_buffer_size``), whose room for body is what the response head left; later ones are
  ``proxy_buffers``-sized. A buffer is sent downstream as soon as it is **full**.
* After each read, a partly filled buffer is sent only if it holds at least the "minimal amount
  of data nginx wants to see": for a close-delimited HTTP/1.0 body never (the default, hence "it
  all arrives at the end"); for a Content-Length body once it holds all that remains; for a
  chunked HTTP/1.1 body once it holds the rest of the current chunk plus 4 bytes, or 3 bytes at a
  chunk boundary — which is why ``proxy_http_version 1.1`` streams events that each arrive whole.
  A sent buffer is reused from its start.
* At upstream EOF whatever is held is sent.

Deliberate simplifications: the downstream client is assumed to read fast, so
``proxy_busy_buffers_size``, the 8-buffer limit and temp files never come into play; a buffer
reused after a partial send is assumed ``proxy_buffers``-sized even when it was the header buffer
(identical under the defaults, where both are one page).
"""

from __future__ import annotations

from ._http import BodyReader


def minimal_length(reader: BodyReader) -> int | None:
    """Bytes nginx wants before it parses a partly filled buffer (``None``: never)."""
    if reader.done:
        return 0
    if reader.mode == "close":
        return None
    if reader.mode == "length":
        return reader.remaining
    state, left, line = reader.chunk_state
    if state == "size":
        if not line.strip():
            return 3  # "0" LF LF
        digits = line.split(b";", 1)[0].strip()
        try:
            size = int(digits, 16) if digits else 0
        except ValueError:
            size = 0
        if b";" in line:
            return 1 + size + 4
        return 1 + (size + 4 if size else 1)
    if state == "data":
        return left + 4  # LF "0" LF LF
    if state == "data_crlf":
        return 4
    return 1 if not line else 2  # trailer


class NginxPipe:
    """``proxy_buffering on``: raw buffers of fixed size, sent when full (see module doc)."""

    def __init__(self, reader: BodyReader, *, first_room: int, buffer_size: int) -> None:
        self.reader = reader
        self.buffer_size = buffer_size
        self._room = max(first_room, 0)
        self._fill = bytearray()
        self._need: int | None = minimal_length(reader)

    @property
    def complete(self) -> bool:
        return self.reader.done

    @property
    def held(self) -> int:
        """Raw bytes read from the upstream but not yet passed on."""
        return len(self._fill)

    def _parse(self) -> bytes:
        data = self.reader.feed(bytes(self._fill))
        self._fill = bytearray()
        self._room = self.buffer_size
        self._need = minimal_length(self.reader)
        return data

    def feed(self, raw: bytes) -> bytes:
        out = bytearray()
        view = memoryview(raw)
        while view:
            if self._room == 0:  # the header buffer had no room left for body
                self._room = self.buffer_size
            take = min(self._room - len(self._fill), len(view))
            self._fill += view[:take]
            view = view[take:]
            if len(self._fill) == self._room:
                out += self._parse()
        if self._fill and self._need is not None and len(self._fill) >= self._need:
            out += self._parse()
        return bytes(out)

    def finish(self) -> bytes:
        return self._parse() if self._fill else b""
