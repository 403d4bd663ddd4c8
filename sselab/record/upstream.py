"""The recording proxy's HTTP/1.1 client: one request per connection, the body passed through.

The response head is parsed (status, headers; 1xx heads skipped). Then every read of the body
is handed on at once, framing included (``sink``: the client's socket, written synchronously
from ``data_received``, no task wake-up, no copy), and kept with its time. Nothing parses the
body on the way but its chunk-size lines (:class:`Framing`: the data is skipped, not copied),
to know when it is complete; the upstream is asked for ``Connection: close`` too.
:func:`dechunk` turns the reads into the body pieces of the recording afterwards, off the event
loop.
"""

from __future__ import annotations

import asyncio
import errno
import ssl as ssl_module
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024
NO_BODY_STATUSES = frozenset({204, 304})


class Unreachable(Exception):
    """The upstream could not be connected to (refused, DNS, TLS): nothing to record."""


@dataclass
class Head:
    status: int
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        want = name.lower()
        return next((v for k, v in self.headers if k.lower() == want), None)


def _parse_head(raw: bytes) -> Head:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {lines[0][:80]!r}")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers.append((name.strip(), value.strip()))
    return Head(int(parts[1]), headers)


@dataclass
class Framing:
    """How the body is delimited, and whether the reads so far complete it. A chunked body is
    followed by its chunk-size lines only: the data is skipped, not copied."""

    mode: str  # "chunked" | "length" | "close" | "none"
    length: int = 0
    received: int = 0
    broken: bool = False  # a chunk-size line that is not one
    _left: int = 0  # bytes of the current chunk (and its CRLF) still to come
    _line: bytes = b""  # a size line cut between two reads
    _trailers: bool = False

    def feed(self, data: bytes) -> bool:
        """Account for one read; True when the body is complete."""
        self.received += len(data)
        if self.mode == "length":
            return self.received >= self.length
        return self.mode == "chunked" and self._chunks(data)

    def _chunks(self, data: bytes) -> bool:
        pos, n = 0, len(data)
        while pos < n and not self.broken:
            if self._left:
                step = min(self._left, n - pos)
                pos += step
                self._left -= step
                continue
            end = data.find(b"\n", pos)
            if end < 0:
                self._line += data[pos:]
                return False
            line = self._line + data[pos:end] if self._line else data[pos:end]
            self._line, pos = b"", end + 1
            if self._trailers:
                if not line.strip():
                    return True
                continue
            try:
                size = int(line, 16)  # int() ignores the CR
            except ValueError:
                try:
                    size = int(line.split(b";", 1)[0], 16)  # a chunk extension
                except ValueError:
                    self.broken = True
                    return False
            if size:
                self._left = size + 2
            else:
                self._trailers = True
        return False


def dechunk(reads: list[tuple[float, bytes]]) -> tuple[list[tuple[float, bytes]], bool]:
    """The body data of each chunked read (its time kept), and whether the terminal chunk was
    read. A read made only of framing gives no piece."""
    out: list[tuple[float, bytes]] = []
    buf = b""
    left = 0  # body bytes still due in the current chunk
    state = "size"  # size | data | crlf | trailer
    for at, data in reads:
        buf += data
        piece = bytearray()
        pos = 0
        while pos < len(buf):
            if state == "data":
                take = min(left, len(buf) - pos)
                piece += buf[pos:pos + take]
                pos += take
                left -= take
                if left:
                    break
                state = "crlf"
            elif state == "crlf":
                if len(buf) - pos < 2:
                    break
                pos += 2
                state = "size"
            else:  # size line, or a trailer line after the last chunk
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    break
                line = buf[pos:end]
                pos = end + 2
                if state == "trailer":
                    if not line:
                        if piece:
                            out.append((at, bytes(piece)))
                        return out, True
                    continue
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    state = "trailer"
                else:
                    left, state = size, "data"
        buf = buf[pos:]
        if piece:
            out.append((at, bytes(piece)))
    return out, False


@dataclass(eq=False)
class Upstream(asyncio.Protocol):
    """One exchange with the upstream (see the module docstring)."""

    request_bytes: bytes
    method: str
    head: asyncio.Future[Head]
    done: asyncio.Future[str]  # "eof" | "close" | "reset", once the exchange is over
    reads: list[tuple[float, bytes]] = field(default_factory=list)  # body reads, framing kept
    sink: Callable[[bytes], bool] | None = None  # writes to the client; True: it is paused
    on_paused: Callable[[], None] | None = None
    framing: Framing | None = None
    transport: asyncio.Transport | None = None
    ended: float | None = None  # loop time the exchange was over
    _buf: bytes = b""
    _held: bytes = b""  # body bytes read before a sink was attached

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request_bytes)

    def data_received(self, data: bytes) -> None:
        if self.framing is None:
            self._head(data)
            return
        self._body(data)

    def _head(self, data: bytes) -> None:
        self._buf += data
        while self.framing is None:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEAD:
                    self._fail(ValueError("the upstream's response head is over 64 KiB"))
                return
            raw, self._buf = self._buf[:end], self._buf[end + 4:]
            try:
                head = _parse_head(raw)
            except ValueError as exc:
                self._fail(exc)
                return
            if 100 <= head.status < 200 and head.status != 101:
                continue  # 100 Continue and other interim heads
            self.framing = _framing(head, self.method)
            if not self.head.done():
                self.head.set_result(head)
        rest, self._buf = self._buf, b""
        if self.framing.mode == "none":
            self._end("eof")
        elif rest:
            self._body(rest)

    def _body(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        self.reads.append((loop.time(), data))
        if self.sink is None:
            self._held += data
        elif self.sink(data) and self.transport is not None:
            self.transport.pause_reading()  # the client reads slowly: so do we
            if self.on_paused is not None:
                self.on_paused()
        assert self.framing is not None
        if self.framing.feed(data):
            self._end("eof")

    def attach(self, sink: Callable[[bytes], bool], on_paused: Callable[[], None]) -> None:
        """Start relaying: what was read meanwhile goes first."""
        self.sink, self.on_paused = sink, on_paused
        if self._held:
            held, self._held = self._held, b""
            if sink(held) and self.transport is not None and not self.done.done():
                self.transport.pause_reading()
                on_paused()

    def resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _end(self, how: str) -> None:
        if not self.done.done():
            self.ended = asyncio.get_running_loop().time()
            self.done.set_result(how)
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: BaseException) -> None:
        if not self.head.done():
            self.head.set_exception(exc)
        self._end("close")

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: BaseException | None) -> None:
        reset = isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE)
        if not self.head.done():
            self.head.set_exception(ConnectionResetError(errno.ECONNRESET, "reset")
                                    if reset else ConnectionError("closed before answering"))
        if self.framing is not None and self.framing.mode == "close" and exc is None:
            self._end("eof")  # a body delimited by the end of the connection
        self._end("reset" if reset else "close")

    def abort(self) -> None:
        """The client went away: close the upstream connection now."""
        if self.transport is not None:
            self.transport.close()


def _framing(head: Head, method: str) -> Framing:
    if method == "HEAD" or head.status in NO_BODY_STATUSES or 100 <= head.status < 200:
        return Framing("none")
    te = (head.header("transfer-encoding") or "").lower()
    if "chunked" in te:
        return Framing("chunked")
    length = head.header("content-length")
    if length is not None and length.strip().isdigit():
        n = int(length)
        return Framing("length", n) if n else Framing("none")
    return Framing("close")


def request_bytes(method: str, url: str, target: str, headers: list[tuple[str, str]],
                  body: bytes) -> bytes:
    parts = urlsplit(url)
    host = parts.hostname or ""
    default = 443 if parts.scheme == "https" else 80
    host_header = host if not parts.port or parts.port == default else f"{host}:{parts.port}"
    lines = [f"{method} {parts.path.rstrip('/')}{target} HTTP/1.1", f"Host: {host_header}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body


async def connect(url: str, data: bytes, method: str,
                  ssl: ssl_module.SSLContext | bool | None, timeout: float = 30.0) -> Upstream:
    """Open the connection and send the request; raises :class:`Unreachable`."""
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    tls: ssl_module.SSLContext | None = None
    if parts.scheme == "https":
        if isinstance(ssl, ssl_module.SSLContext):
            tls = ssl
        else:
            tls = ssl_module.create_default_context()
            if ssl is False:
                tls.check_hostname = False
                tls.verify_mode = ssl_module.CERT_NONE
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proto = Upstream(data, method, loop.create_future(), loop.create_future())
    try:
        await asyncio.wait_for(loop.create_connection(
            lambda: proto, parts.hostname, port, ssl=tls,
            server_hostname=parts.hostname if tls else None), timeout)
    except (OSError, asyncio.TimeoutError, ssl_module.SSLError) as exc:
        raise Unreachable(str(exc) or type(exc).__name__) from None
    return proto
