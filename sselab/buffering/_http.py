"""Just enough HTTP/1.x framing for the buffering proxy and the arrival-timing client.

Both sides read raw sockets so that sselab controls (and observes) exactly when bytes move:
:func:`split_head` parses a status line plus headers, :class:`BodyReader` incrementally undoes
Content-Length, chunked or close-delimited framing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024


class HttpFramingError(ValueError):
    """The peer sent bytes that are not HTTP/1.x framing."""


@dataclass
class Head:
    """A parsed response head: ``version`` like ``HTTP/1.1``, ``status``, ``reason`` and headers."""

    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    size: int = 0  # bytes of the head on the wire, blank line included

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return default


def split_head(buf: bytes) -> tuple[Head, bytes] | None:
    """Parse a response head from ``buf``; ``None`` while the blank line has not arrived.

    Returns the head and the bytes after it. Raises :class:`HttpFramingError` on garbage.
    """
    end = buf.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end = buf.find(b"\n\n")
        sep = 2
    if end < 0:
        if len(buf) > MAX_HEAD or (len(buf) >= 5 and not buf.startswith(b"HTTP/")):
            raise HttpFramingError(f"not an HTTP response (starts {buf[:16]!r})")
        return None
    lines = buf[:end].decode("latin-1").replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpFramingError(f"bad status line {lines[0][:60]!r}")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise HttpFramingError(f"bad header line {line[:60]!r}")
        headers.append((name.strip(), value.strip()))
    head = Head(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", headers, end + sep)
    return head, buf[end + sep:]


class BodyReader:
    """Incremental body de-framer: ``feed(raw) -> decoded bytes``; ``done`` once the body ended.

    ``mode`` is ``"length"`` (with ``length``), ``"chunked"`` or ``"close"`` (ends at EOF).
    """

    def __init__(self, mode: str, length: int = 0) -> None:
        self.mode = mode
        self.remaining = length
        self.done = mode == "length" and length == 0
        self._buf = b""
        self._chunk_left = 0
        self._state = "size"  # chunked: size | data | data_crlf | trailer

    @classmethod
    def for_head(cls, head: Head, request_method: str = "GET") -> BodyReader:
        if request_method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200:
            return cls("length", 0)
        if "chunked" in (head.get("transfer-encoding") or "").lower():
            return cls("chunked")
        length = head.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise HttpFramingError(f"bad Content-Length {length!r}")
            return cls("length", int(length))
        return cls("close")

    @property
    def chunk_state(self) -> tuple[str, int, bytes]:
        """Chunked parser position: (``size``|``data``|``data_crlf``|``trailer``, bytes left in
        the current chunk, the partial line held)."""
        return self._state, self._chunk_left, self._buf

    def feed(self, data: bytes) -> bytes:
        if self.done or not data:
            return b""
        if self.mode == "close":
            return data
        if self.mode == "length":
            out = data[: self.remaining]
            self.remaining -= len(out)
            self.done = self.remaining == 0
            return out
        return self._feed_chunked(data)

    def _feed_chunked(self, data: bytes) -> bytes:
        self._buf += data
        out = bytearray()
        while not self.done:
            if self._state == "data":
                take = self._buf[: self._chunk_left]
                out += take
                self._buf = self._buf[len(take):]
                self._chunk_left -= len(take)
                if self._chunk_left:
                    break
                self._state = "data_crlf"
                continue
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > 4096:
                    raise HttpFramingError("chunk size line too long")
                break
            line = self._buf[:nl].strip()
            self._buf = self._buf[nl + 1:]
            if self._state == "data_crlf":
                if line:
                    raise HttpFramingError("missing CRLF after chunk data")
                self._state = "size"
            elif self._state == "size":
                try:
                    size = int(line.split(b";", 1)[0], 16)
                except ValueError:
                    raise HttpFramingError(f"bad chunk size {line[:20]!r}") from None
                self._chunk_left = size
                self._state = "data" if size else "trailer"
            elif not line:  # end of trailer section
                self.done = True
        return bytes(out)
