"""sselab's downstream client: a minimal HTTP/1.1 client on a raw socket that records, per read,
when body bytes arrived and what text they carried: what the user would see, and when.

It deliberately avoids an HTTP library: every ``recv`` is one observed arrival (no read-ahead
buffer in between), the receive buffer can be made small and the reads slow (a slow consumer),
and the connection can be dropped at any moment (a user closing the tab).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..errors import ConfigError
from .extract import Extractor

MAX_HEAD = 64 * 1024


@dataclass
class Arrival:
    at: float  # monotonic
    nbytes: int  # body bytes in this read (after de-chunking and decompression)
    text: str = ""
    error: str | None = None
    done: bool = False


@dataclass
class Trace:
    """Everything the client saw of one response. Times are ``time.monotonic()`` readings."""

    url: str
    started: float
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    headers_at: float | None = None
    arrivals: list[Arrival] = field(default_factory=list)
    text: str = ""
    errors: list[str] = field(default_factory=list)
    done: bool = False  # the body said it is complete (done event, [DONE], ...)
    keepalives: int = 0
    body_bytes: int = 0
    raw_sample: bytes = b""  # the first body bytes, for messages about unexpected answers
    framing: str = ""  # chunked | content-length | close
    # how the body ended: complete (framing finished), truncated (connection closed mid-body),
    # client_closed (we disconnected), timeout, connect_error
    end: str | None = None
    ended: float | None = None
    closed_at: float | None = None  # when this client disconnected on purpose
    failure: str | None = None  # a connection-level error message
    shape: str | None = None  # what the extractor recognised
    local_port: int | None = None  # this client's socket
    remote_port: int | None = None
    last_event_id: str | None = None  # SSE: the id of the last complete event

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def text_arrivals(self) -> list[Arrival]:
        return [a for a in self.arrivals if a.text]

    @property
    def first_text_at(self) -> float | None:
        return next((a.at for a in self.arrivals if a.text), None)

    def text_at(self, t: float) -> int:
        """Characters of answer text received by monotonic time ``t``."""
        return sum(len(a.text) for a in self.arrivals if a.at <= t)


@dataclass
class Request:
    url: str
    method: str = "POST"
    body: bytes | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


def split_url(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ConfigError(f"--endpoint: only http:// URLs are supported, got {url!r} "
                          "(run the app locally, next to the simulator)")
    if not parts.hostname:
        raise ConfigError(f"--endpoint: no host in {url!r}")
    try:
        port = parts.port or 80
    except ValueError:
        raise ConfigError(f"--endpoint: bad port in {url!r}") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, path


def _head_bytes(req: Request, host: str, port: int, path: str) -> bytes:
    names = {k.lower() for k, _ in req.headers}
    lines = [f"{req.method} {path} HTTP/1.1"]
    defaults = [("Host", f"[{host}]:{port}" if ":" in host else f"{host}:{port}"),
                ("User-Agent", "sselab-check"), ("Accept", "*/*"),
                ("Accept-Encoding", "gzip, deflate"), ("Connection", "close")]
    if req.body is not None:
        defaults += [("Content-Type", "application/json"),
                     ("Content-Length", str(len(req.body)))]
    lines += [f"{k}: {v}" for k, v in defaults if k.lower() not in names]
    lines += [f"{k}: {v}" for k, v in req.headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (req.body or b"")


class _Chunked:
    """Incremental ``Transfer-Encoding: chunked`` decoder."""

    def __init__(self) -> None:
        self.buf = b""
        self.left = 0  # bytes left in the current chunk (+2 for its CRLF once started)
        self.state = "size"  # size | data | crlf | trailer | done

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = bytearray()
        while self.buf and self.state != "done":
            if self.state == "size":
                line, sep, rest = self.buf.partition(b"\r\n")
                if not sep:
                    if len(self.buf) > 1024:
                        raise ValueError("chunk size line too long")
                    break
                self.left = int(line.split(b";")[0].strip() or b"0", 16)
                self.buf = rest
                self.state = "data" if self.left else "trailer"
            elif self.state == "data":
                take = self.buf[:self.left]
                out += take
                self.buf = self.buf[len(take):]
                self.left -= len(take)
                if not self.left:
                    self.state = "crlf"
            elif self.state == "crlf":
                if len(self.buf) < 2:
                    break
                self.buf = self.buf[2:]
                self.state = "size"
            else:  # trailer: lines until an empty one
                line, sep, rest = self.buf.partition(b"\r\n")
                if not sep:
                    break
                self.buf = rest
                if not line:
                    self.state = "done"
        return bytes(out)


class BodyReader:
    """A response body's framing (chunked, Content-Length or until close) and content encoding
    (gzip, deflate), undone one read at a time. Shared by :class:`Stream` and by sselab's
    load-test user (``sselab.load``), which reads with blocking gevent sockets."""

    def __init__(self, trace: Trace) -> None:
        te = (trace.header("transfer-encoding") or "").lower()
        length = trace.header("content-length")
        self.chunked = _Chunked() if "chunked" in te else None
        self.remaining = int(length) if length and length.isdigit() and not self.chunked \
            else None
        trace.framing = "chunked" if self.chunked else "content-length" \
            if self.remaining is not None else "close"
        enc = (trace.header("content-encoding") or "").lower().strip()
        self.inflate = zlib.decompressobj(47) if enc in ("gzip", "deflate", "x-gzip") else None

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(the body bytes this read carried, whether the framing says the body is complete)."""
        if self.chunked is not None:
            body = self.chunked.feed(data)
        else:
            body = data[:self.remaining] if self.remaining is not None else data
            if self.remaining is not None:
                self.remaining -= len(body)
        if self.inflate is not None and body:
            body = self.inflate.decompress(body)
        finished = (self.chunked is not None and self.chunked.state == "done") \
            or self.remaining == 0
        return body, finished

    def end_at_close(self) -> str:
        """How the body ended when the connection closes now: only a close-delimited body is
        complete then."""
        return "complete" if self.chunked is None and self.remaining is None else "truncated"


class Stream:
    """One request in flight: ``await start()``, then ``wait``/``finished``/``disconnect``.

    A background task reads the socket (``read_size`` bytes a read, ``read_delay`` between
    reads) into :attr:`trace`.
    """

    def __init__(self, request: Request, extractor: Extractor, *, rcvbuf: int | None = None,
                 read_size: int = 65536, read_delay: float = 0.0,
                 connect_timeout: float = 5.0) -> None:
        self.request = request
        self.extractor = extractor
        self.rcvbuf, self.read_size, self.read_delay = rcvbuf, read_size, read_delay
        self.connect_timeout = connect_timeout
        self.trace = Trace(request.url, time.monotonic())
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._on_arrival: list[Callable[[Trace], None]] = []

    async def start(self) -> Stream:
        self._task = asyncio.create_task(self._run())
        return self

    # -- waiting ------------------------------------------------------------------------------
    async def wait(self, predicate: Callable[[Trace], bool], timeout: float) -> bool:
        """Wait until ``predicate(trace)`` or the stream ends; True if the predicate held."""
        deadline = time.monotonic() + timeout
        while not predicate(self.trace):
            if self.trace.end is not None:
                return predicate(self.trace)
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.05))
        return True

    async def finished(self, timeout: float) -> bool:
        """Wait for the end of the response; on timeout, disconnect and record ``timeout``."""
        if await self.wait(lambda t: t.end is not None, timeout):
            return True
        await self.disconnect("timeout")
        return False

    async def disconnect(self, why: str = "client_closed") -> None:
        """Drop the connection now (like a closed browser tab)."""
        if self.trace.end is None:
            self.trace.closed_at = time.monotonic()
            self._finish(why)
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._close()

    async def close(self) -> None:
        await self.disconnect()

    # -- the reader ---------------------------------------------------------------------------
    def _finish(self, end: str, failure: str | None = None) -> None:
        if self.trace.end is None:
            self.trace.end = end
            self.trace.ended = time.monotonic()
            if failure and not self.trace.failure:
                self.trace.failure = failure
        self._changed.set()

    def _close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    async def _connect(self) -> socket.socket:
        host, port, _ = split_url(self.request.url)
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        last: OSError | None = None
        for family, type_, proto, _, addr in infos:
            sock = socket.socket(family, type_, proto)
            sock.setblocking(False)
            if self.rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            try:
                await asyncio.wait_for(loop.sock_connect(sock, addr), self.connect_timeout)
                return sock
            except (OSError, asyncio.TimeoutError) as exc:
                sock.close()
                last = exc if isinstance(exc, OSError) else TimeoutError("connect timed out")
        raise last or OSError(f"cannot resolve {host}")

    async def _run(self) -> None:
        trace = self.trace
        try:
            try:
                sock = self._sock = await self._connect()
            except OSError as exc:
                host, port, _ = split_url(self.request.url)
                self._finish("connect_error", f"cannot connect to {host}:{port}: "
                                              f"{exc.strerror or exc}")
                return
            trace.local_port = sock.getsockname()[1]
            trace.remote_port = sock.getpeername()[1]
            loop = asyncio.get_running_loop()
            host, port, path = split_url(self.request.url)
            await loop.sock_sendall(sock, _head_bytes(self.request, host, port, path))
            head, rest = await self._read_head(sock, loop)
            if head is None:
                return
            self._parse_head(head)
            await self._read_body(sock, loop, rest)
        except asyncio.CancelledError:
            raise
        except (OSError, ValueError, zlib.error) as exc:
            self._finish("truncated", f"{type(exc).__name__}: {exc}")
        finally:
            if trace.end is None:
                self._finish("truncated")
            self._close()

    async def _read_head(self, sock: socket.socket,
                         loop: asyncio.AbstractEventLoop) -> tuple[bytes | None, bytes]:
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = await loop.sock_recv(sock, 65536)
            if not data:
                what = "closed the connection without an HTTP response" if not buf else \
                    "closed the connection in the middle of the response headers"
                if buf and not buf.startswith(b"HTTP/"):
                    what = f"answered with something that is not HTTP: {buf[:60]!r}"
                self._finish("truncated", f"the endpoint {what}")
                return None, b""
            buf += data
            if len(buf) > MAX_HEAD:
                self._finish("truncated", "the response headers are larger than 64 KiB")
                return None, b""
        head, _, rest = buf.partition(b"\r\n\r\n")
        return head, rest

    def _parse_head(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ValueError(f"not an HTTP status line: {lines[0][:80]!r}")
        self.trace.status = int(parts[1])
        self.trace.reason = parts[2] if len(parts) > 2 else ""
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            if sep:
                self.trace.headers.append((k.strip(), v.strip()))
        self.trace.headers_at = time.monotonic()

    async def _read_body(self, sock: socket.socket, loop: asyncio.AbstractEventLoop,
                         rest: bytes) -> None:
        body = BodyReader(self.trace)
        ctype = self.trace.header("content-type") or ""
        data = rest
        while True:
            if data:
                at = time.monotonic()
                decoded, finished = body.feed(data)
                if decoded:
                    self._arrive(at, decoded, ctype)
                if finished:
                    self._finish("complete")
                    return
            if self.read_delay:
                await asyncio.sleep(self.read_delay)
            data = await loop.sock_recv(sock, self.read_size)
            if not data:
                self._finish(body.end_at_close())
                return

    def _arrive(self, at: float, body: bytes, ctype: str) -> None:
        trace = self.trace
        if len(trace.raw_sample) < 2048:
            trace.raw_sample += body[:2048 - len(trace.raw_sample)]
        trace.body_bytes += len(body)
        pieces = self.extractor.feed(body, ctype)
        trace.shape = self.extractor.shape
        arrival = Arrival(at, len(body))
        for p in pieces:
            arrival.text += p.text
            if p.error is not None:
                arrival.error = p.error
                trace.errors.append(p.error)
            if p.done:
                arrival.done = trace.done = True
            if p.keepalive:
                trace.keepalives += 1
        trace.text += arrival.text
        trace.last_event_id = self.extractor.last_id
        trace.arrivals.append(arrival)
        self._changed.set()
