"""One stream read with blocking sockets: :class:`BlockingStream`.

Locust runs each user in a gevent greenlet, where blocking socket calls yield to the other
users (gevent patches ``socket`` when Locust is imported). This is ``sselab check``'s client
(:class:`~sselab.check.http_client.Stream`: the same request bytes, head parsing, body framing
and text extraction, one ``recv`` per observed arrival) driven by a plain loop instead of
asyncio. It works unpatched too (in a thread), which is how its tests run.
"""

from __future__ import annotations

import socket
import time
import zlib

from ..check.extract import Extractor, Piece
from ..check.http_client import (
    MAX_HEAD,
    BodyReader,
    Request,
    Stream,
    Trace,
    _head_bytes,
    split_url,
)


class CountingExtractor(Extractor):
    """An :class:`~sselab.check.extract.Extractor` that remembers how many text pieces (tokens)
    its last ``feed`` found."""

    last_tokens: int = 0

    def feed(self, data: bytes, content_type: str = "") -> list[Piece]:
        pieces = super().feed(data, content_type)
        self.last_tokens = sum(1 for p in pieces if p.text)
        return pieces


class BlockingStream(Stream):
    """``run()`` sends the request and reads the whole response (or until ``timeout`` s, or
    until ``abort_after`` s after the first text, when given: a user closing the tab)."""

    def __init__(self, request: Request, extract: str = "auto", *, timeout: float = 60.0,
                 abort_after: float | None = None, read_size: int = 65536,
                 connect_timeout: float = 5.0) -> None:
        self.counter = CountingExtractor(extract)
        super().__init__(request, self.counter, read_size=read_size,
                         connect_timeout=connect_timeout)
        self.timeout, self.abort_after = timeout, abort_after
        self.per_arrival: list[int] = []  # tokens in each arrival that carried text
        self.aborted = False

    def _arrive(self, at: float, body: bytes, ctype: str) -> None:
        super()._arrive(at, body, ctype)
        if self.trace.arrivals[-1].text:
            self.per_arrival.append(self.counter.last_tokens)

    def run(self) -> Trace:
        """Read the response; the trace's ``end`` says how it ended."""
        trace = self.trace
        trace.started = time.monotonic()
        deadline = trace.started + self.timeout
        host, port, path = split_url(self.request.url)
        try:
            try:
                sock = self._sock = socket.create_connection(
                    (host, port), timeout=min(self.connect_timeout, self.timeout))
            except OSError as exc:
                self._finish("connect_error", f"cannot connect to {host}:{port}: "
                                              f"{getattr(exc, 'strerror', None) or exc}")
                return trace
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            trace.local_port, trace.remote_port = sock.getsockname()[1], sock.getpeername()[1]
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            sock.sendall(_head_bytes(self.request, host, port, path))
            rest = self._head(sock, deadline)
            if rest is None:
                return trace
            self._body(sock, rest, deadline)
        except (OSError, ValueError, zlib.error) as exc:
            self._finish("truncated", f"{type(exc).__name__}: {exc}")
        finally:
            if trace.end is None:  # killed from outside (a greenlet's run ended): the caller
                trace.closed_at = time.monotonic()  # knows why
                self._finish("client_closed")
            self._close()
        return trace

    def _recv(self, sock: socket.socket, until: float) -> bytes | None:
        """One read, or None when ``until`` passed first."""
        left = until - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            return sock.recv(self.read_size)
        except TimeoutError:
            return None

    def _head(self, sock: socket.socket, deadline: float) -> bytes | None:
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = self._recv(sock, deadline)
            if data is None:
                self._finish("timeout", "no response headers within the stream timeout")
                return None
            if not data:
                what = "closed the connection without an HTTP response" if not buf else \
                    "closed the connection in the middle of the response headers"
                self._finish("truncated", f"the endpoint {what}")
                return None
            buf += data
            if len(buf) > MAX_HEAD:
                self._finish("truncated", "the response headers are larger than 64 KiB")
                return None
        head, _, rest = buf.partition(b"\r\n\r\n")
        self._parse_head(head)
        return rest

    def _body(self, sock: socket.socket, data: bytes, deadline: float) -> None:
        body = BodyReader(self.trace)
        ctype = self.trace.header("content-type") or ""
        at = time.monotonic()
        while True:
            if data:
                decoded, finished = body.feed(data)
                if decoded:
                    self._arrive(at, decoded, ctype)
                if finished:
                    self._finish("complete")
                    return
            until, why = deadline, "timeout"
            first = self.trace.first_text_at
            if self.abort_after is not None and first is not None \
                    and first + self.abort_after < deadline:
                until, why = first + self.abort_after, "client_closed"
            data = self._recv(sock, until)  # type: ignore[assignment]
            at = time.monotonic()
            if data is None:
                self.trace.closed_at = time.monotonic()
                self.aborted = why == "client_closed"
                self._finish(why)
                return
            if not data:
                self._finish(body.end_at_close())
                return
