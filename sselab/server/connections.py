"""The simulator's connections: a header-read timeout, an idle timeout and a connection cap.

aiohttp alone closes an idle keep-alive connection after ``keepalive_timeout`` but has no
header-read timeout (a client sending one header byte every few seconds keeps its connection
forever) and no cap (past the file-descriptor limit, ``accept`` fails for everyone). Each
socket the listener (``listener.py``) accepts gets a thin :class:`_Conn` protocol around
aiohttp's own request handler:

- **header timeout** (default 10 s): a request's header must be complete this long after its
  first byte (or, on a new connection, after the connection opened); else the client gets
  ``408`` and the connection is closed, with one log line.
- **idle timeout** (default 75 s): a keep-alive connection waiting for its next request is
  closed after this long (silently: that is ordinary keep-alive expiry).
- **cap** (default: derived from ``RLIMIT_NOFILE``, see :func:`default_max_connections`): a
  connection over it gets ``503`` with a JSON body naming the cap, and is closed; one log line.
  The answer waits for the request (an answer sent before it can be lost to a reset) unless
  many refused connections are waiting already: then it is sent at once and the socket closed.

The timeouts are enforced by one sweep over the open connections a few times a second, not one
timer per connection. Closed connections drop their references at once (the transport's
self-referencing read callback included), so a closed connection leaves no cyclic garbage.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

try:
    import resource
except ImportError:  # pragma: no cover - not POSIX
    resource = None  # type: ignore[assignment]

log = logging.getLogger("sselab.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _soft_limit() -> int | None:
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return None
    return None if soft == resource.RLIM_INFINITY or soft <= 0 else int(soft)


BURST = 64  # the most connections accepted in one go (listener.ACCEPTS_PER_WAKEUP)


def default_max_connections() -> int:
    """The soft ``RLIMIT_NOFILE`` minus a reserve (an eighth of it, at least 128) for what else
    the process opens and for refused connections until they close; at least 16: 896 under
    the common limit of 1024."""
    soft = _soft_limit()
    if soft is None:
        return 100_000
    return max(16, soft - max(128, soft // 8))


def _max_refusing(cap: int) -> int:
    """How many refused connections may wait for their request (to answer it, so the 503 is
    not lost to a reset) at once: a quarter of the descriptors left above the cap and one
    accept burst, 4 to 32; more are answered and closed at once."""
    soft = _soft_limit()
    spare = (soft - cap - BURST) // 4 if soft is not None else 32
    return max(4, min(32, spare))


@dataclass(frozen=True)
class ConnectionLimits:
    """Timeouts (seconds) and the connection cap; ``max_connections=None`` means
    :func:`default_max_connections`."""

    header_timeout: float = 10.0
    idle_timeout: float = 75.0
    max_connections: int | None = None

    def __post_init__(self) -> None:
        if self.header_timeout <= 0 or self.idle_timeout <= 0:
            raise ValueError("header_timeout and idle_timeout must be positive seconds")
        if self.max_connections is not None and self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")

    @property
    def cap(self) -> int:
        return self.max_connections or default_max_connections()


def _response(status: int, reason: str, message: str, kind: str, **headers: str) -> bytes:
    body = json.dumps({"error": {"message": message, "type": kind, "param": None,
                                 "code": kind}}).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{head}\r\n").encode() + body


def _address(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"[{peer[0]}]:{peer[1]}" if ":" in str(peer[0]) else f"{peer[0]}:{peer[1]}"
    return str(peer or "?")


def _peer(transport: asyncio.BaseTransport) -> str:
    return _address(transport.get_extra_info("peername"))


def _break_cycle(transport: asyncio.BaseTransport | None) -> None:
    """asyncio's selector transport keeps a bound method of itself (``_read_ready_cb``) after it
    closes: a reference cycle per connection that only a full GC pass frees. Drop it once the
    connection is gone (the reader is unregistered by then, so it is never called again)."""
    if transport is not None and getattr(transport, "_read_ready_cb", None) is not None:
        with contextlib.suppress(AttributeError, TypeError):
            transport._read_ready_cb = None  # type: ignore[attr-defined]  # noqa: SLF001


class _Conn(asyncio.Protocol):
    """One accepted connection: aiohttp's request handler inside, its timing outside."""

    def __init__(self, guard: ConnectionGuard, refused: bool = False) -> None:
        self.guard = guard
        self.inner: Any = None  # aiohttp's RequestHandler, once connected
        self.transport: asyncio.Transport | None = None
        self.opened = self.idle_since = time.monotonic()
        self.header_started: float | None = None
        self.busy = 0  # requests being handled right now
        self.requests = 0
        self.refused = refused  # over the cap: answered 503 once its request arrives

    # -- asyncio.Protocol --
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.refused:  # close soon even if no request comes, to free the descriptor
            asyncio.get_running_loop().call_later(min(1.0, self.guard.limits.header_timeout),
                                                  self.close)
            return
        self.inner = self.guard.server()
        self.inner.connection_made(transport)
        self.guard.by_handler[self.inner] = self

    def data_received(self, data: bytes) -> None:
        if self.refused:
            self.guard.answer_refused(self)
            return
        if not self.busy and self.header_started is None and data:
            self.header_started = time.monotonic()
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        if exc is not None:
            # aiohttp stores it on the request's body stream; its traceback's frames reach
            # back (f_back) to the handler that holds the request: a cycle per broken pipe
            exc.__traceback__ = None
        inner, self.inner = self.inner, None
        try:
            if inner is not None:
                inner.connection_lost(exc)
        finally:
            _break_cycle(self.transport)
            self.transport = None

    # -- the request cycle (from the middleware) --
    def request_started(self) -> None:
        self.busy += 1
        self.requests += 1

    def request_ended(self) -> None:
        self.busy -= 1
        self.idle_since = time.monotonic()
        self.header_started = None

    def close(self, answer: bytes | None = None) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if answer:
            with contextlib.suppress(Exception):
                transport.write(answer)
        transport.close()


class ConnectionGuard:
    """Admits, times and counts one server's connections (see the module docstring).

    ``server`` is aiohttp's protocol factory (``runner.server``); :meth:`protocol` is the
    factory to give ``loop.create_server`` instead, and :meth:`middleware` must be in the
    application so the guard knows when a request is being handled.
    """

    def __init__(self, limits: ConnectionLimits | None = None) -> None:
        self.limits = limits or ConnectionLimits()
        self.cap = self.limits.cap
        self.server: Callable[[], Any] = lambda: None
        self.open: set[_Conn] = set()
        self.by_handler: dict[Any, _Conn] = {}
        self.refused_total = 0
        self.timed_out_total = 0
        self.refusing = 0  # refused connections waiting for their request, to answer it
        self.max_refusing = _max_refusing(self.cap)
        self._sweeper: asyncio.Task[None] | None = None

    # -- wiring --
    def protocol(self) -> asyncio.Protocol:
        """A protocol factory for ``loop.create_server`` (where the listener cannot run: a loop
        without ``add_reader``): admitted, or refused gracefully, as it connects."""
        if len(self.open) < self.cap:
            conn = _Conn(self)
            self.open.add(conn)
            return conn
        self.refused_total += 1
        self.refusing += 1
        log.warning("sselab: refused a connection: %d connections are open, the cap "
                    "(max_connections)", len(self.open))
        return _Conn(self, refused=True)

    def start(self, server: Callable[[], Any]) -> None:
        self.server = server
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        conn = self.by_handler.get(request.protocol)
        if conn is None:
            return await handler(request)
        conn.request_started()
        try:
            return await handler(request)
        finally:
            conn.request_ended()

    # -- admission (from the listener) --
    def accept(self, sock: socket.socket, addr: Any) -> _Conn | None:
        """The protocol for a just-accepted socket, or None when it was answered and closed
        here (a flood over the cap)."""
        if len(self.open) < self.cap:
            conn = _Conn(self)
            self.open.add(conn)
            return conn
        self.refused_total += 1
        log.warning("sselab: refused a connection from %s: %d connections are open, the cap "
                    "(max_connections)", _address(addr), len(self.open))
        if self.refusing < self.max_refusing:
            self.refusing += 1
            return _Conn(self, refused=True)
        with contextlib.suppress(OSError):  # a flood: answer now, free the descriptor now
            sock.send(self.refusal())
        sock.close()
        return None

    def lost_before_connecting(self, conn: _Conn) -> None:
        self.forget(conn)

    def refusal(self) -> bytes:
        return _response(
            503, "Service Unavailable",
            f"sselab: too many open connections: this server accepts {self.cap} at once "
            f"(max_connections); this one was refused, try again shortly", "overloaded",
            **{"Retry-After": "1"})

    def answer_refused(self, conn: _Conn) -> None:
        conn.close(self.refusal())

    def forget(self, conn: _Conn) -> None:
        if conn.refused:
            conn.refused = False
            self.refusing -= 1
        self.open.discard(conn)
        if conn.inner is not None:
            self.by_handler.pop(conn.inner, None)

    # -- timeouts --
    def sweep(self, now: float | None = None) -> None:
        """Close connections past their header or idle timeout."""
        now = time.monotonic() if now is None else now
        header, idle = self.limits.header_timeout, self.limits.idle_timeout
        for conn in list(self.open):
            if conn.busy or conn.transport is None:
                continue
            if conn.header_started is not None:
                if now - conn.header_started > header:
                    self._time_out(conn, f"no complete request header within {header:g} s")
            elif conn.requests == 0:
                if now - conn.opened > header:
                    self._time_out(conn, f"no request within {header:g} s of connecting",
                                   quiet=True)
            elif now - conn.idle_since > idle:
                conn.close()  # ordinary keep-alive expiry

    def _time_out(self, conn: _Conn, why: str, quiet: bool = False) -> None:
        self.timed_out_total += 1
        assert conn.transport is not None
        if not quiet:
            log.warning("sselab: closed the connection from %s: %s", _peer(conn.transport), why)
        conn.close(_response(408, "Request Timeout", f"sselab: {why}; closed",
                             "request_timeout") if not quiet else None)

    def tick(self) -> float:
        limits = self.limits
        return max(0.02, min(1.0, min(limits.header_timeout, limits.idle_timeout) / 4))

    async def _sweep_forever(self) -> None:
        tick = self.tick()
        while True:
            await asyncio.sleep(tick)
            self.sweep()


class OneLineLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, but a malformed request (header too long, Content-Length with
    chunked, an HTTP/2 preface...) is one line, not a traceback. Anything else (a bug in a
    handler) keeps its traceback."""

    def exception(self, msg: object, *args: object, exc_info: Any = True,
                  **kwargs: Any) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else None
        from aiohttp.http_exceptions import HttpProcessingError
        from aiohttp.web_protocol import RequestPayloadError

        if isinstance(exc, ConnectionError):  # the client went away mid-answer: not news
            self.logger.debug("%s: %s", str(msg) % args if args else msg, exc)
            return
        if isinstance(exc, (HttpProcessingError, RequestPayloadError)):
            from .recorder import escape

            text = str(msg) % args if args else str(msg)
            detail = " ".join(str(getattr(exc, "message", None) or exc).split())
            self.logger.warning("sselab: %s: %s: %s", escape(text), type(exc).__name__,
                                escape(detail)[:300])
            return
        self.logger.error(msg, *args, exc_info=exc_info, **kwargs)


def server_logger() -> OneLineLogger:
    return OneLineLogger(logging.getLogger("aiohttp.server"), {})
