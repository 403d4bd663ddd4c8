"""The simulator's listening socket, with its own accept loop in front of aiohttp.

Why not ``loop.create_server``: every connection over the cap must be refused without holding
a descriptor, and asyncio closes a socket only a loop turn or two after ``close()`` while it
goes on accepting, so a flood of refused connections exhausts the descriptors anyway; and when
``accept`` fails with EMFILE, asyncio logs the error once per queued connection and leaves
retry timers that log tracebacks after the server closes. Here each accepted socket is
admitted (handed to asyncio with :meth:`loop.connect_accepted_socket`), refused gracefully
(answered once its request arrives), or, in a flood, answered ``503`` and closed at once; a
failing ``accept`` pauses accepting briefly with one log line a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from typing import Any

from aiohttp import web

from .connections import ConnectionGuard, ConnectionLimits, server_logger

log = logging.getLogger("sselab.server")

LISTEN_BACKLOG = 128
ACCEPTS_PER_WAKEUP = 64
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def bind(host: str, port: int, backlog: int = LISTEN_BACKLOG, *,
         reuse_port: bool = False) -> socket.socket:
    """A listening, non-blocking socket on the first address ``host`` resolves to
    (``reuse_port``: shared with other processes, SO_REUSEPORT)."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"cannot listen on {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise OSError(exc.errno, f"error while attempting to bind on address "
                                     f"{address[:2]!r}: {exc.strerror}") from None
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Listener:
    """Accepts on ``sock`` and hands each connection to ``guard`` (what a site's ``_server``
    is to aiohttp: ``sockets`` and ``close()``)."""

    def __init__(self, sock: socket.socket, guard: ConnectionGuard,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.sock, self.guard, self.loop = sock, guard, loop
        self._connecting: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._resume: asyncio.TimerHandle | None = None
        self._last_warning, self._suppressed = -1e9, 0

    @property
    def sockets(self) -> list[socket.socket]:
        return [] if self._closed else [self.sock]

    def start(self) -> None:
        self._resume = None
        if not self._closed:
            self.loop.add_reader(self.sock.fileno(), self._accept)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._resume is not None:
            self._resume.cancel()
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def _accept(self) -> None:
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                conn, addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                self._pause(exc)
                return
            conn.setblocking(False)
            protocol = self.guard.accept(conn, addr)
            if protocol is not None:
                self._connect(conn, protocol)

    def _connect(self, conn: socket.socket, protocol: asyncio.Protocol) -> None:
        task = self.loop.create_task(self.loop.connect_accepted_socket(lambda: protocol, conn))
        self._connecting.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._connecting.discard(t)
            if t.cancelled() or t.exception() is not None:
                self.guard.lost_before_connecting(protocol)
                conn.close()

        task.add_done_callback(done)

    def _pause(self, exc: OSError) -> None:
        """Out of descriptors (or another accept failure): stop accepting for a moment."""
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(self.sock.fileno())
        now = time.monotonic()
        if now - self._last_warning >= 1.0:
            more = f" ({self._suppressed} more since the last line)" if self._suppressed else ""
            kind = "out of resources" if exc.errno in _OUT_OF_RESOURCES else "failed"
            log.warning("sselab: accepting connections %s: %s; new connections wait%s", kind,
                        exc, more)
            self._last_warning, self._suppressed = now, 0
        else:
            self._suppressed += 1
        self._resume = self.loop.call_later(0.1, self.start)


class GuardedSite(web.BaseSite):
    """A TCP site whose connections go through a :class:`ConnectionGuard`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int,
                 guard: ConnectionGuard, *, reuse_port: bool = False) -> None:
        super().__init__(runner, backlog=LISTEN_BACKLOG)
        self._host, self._port, self._guard = host, port, guard
        self._reuse_port = reuse_port

    @property
    def name(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def sockets(self) -> list[socket.socket]:
        return list(self._server.sockets) if self._server is not None else []

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        sock = bind(self._host, self._port, self._backlog, reuse_port=self._reuse_port)
        loop = asyncio.get_running_loop()
        self._guard.start(server)
        listener = Listener(sock, self._guard, loop)
        try:
            listener.start()
        except NotImplementedError:  # no add_reader (Windows' proactor loop): asyncio accepts
            self._server = await loop.create_server(self._guard.protocol, sock=sock,
                                                    backlog=self._backlog)
            return
        self._server = listener  # type: ignore[assignment]

    async def stop(self) -> None:
        await self._guard.stop()
        await super().stop()


async def serve_guarded(app: web.Application, host: str, port: int, limits: ConnectionLimits, *,
                        reuse_port: bool = False) -> tuple[web.AppRunner, GuardedSite,
                                                           ConnectionGuard]:
    """Serve ``app`` on ``host:port`` with the simulator's server settings (handler
    cancellation, no access log, one-line errors) and its connections through a
    :class:`ConnectionGuard` holding ``limits``. Cleaned up again if the site cannot start."""
    guard = ConnectionGuard(limits)
    app.middlewares.append(guard.middleware)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None,
                           shutdown_timeout=0.5, keepalive_timeout=limits.idle_timeout,
                           logger=server_logger())
    await runner.setup()
    site = GuardedSite(runner, host, port, guard, reuse_port=reuse_port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site, guard
