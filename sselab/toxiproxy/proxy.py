"""A proxy: listens, dials the upstream for each client, and joins the two with two links.

Like Toxiproxy, a client is accepted first and the upstream dialled afterwards; if the upstream
refuses, the client's connection is closed (and a warning logged) and the proxy keeps serving.
Disabling or deleting a proxy stops listening and closes its live connections.

Deliberate differences from Toxiproxy: an empty listen host means 127.0.0.1 (Toxiproxy would
listen on every interface); a half-close is passed on as a half-close (Toxiproxy closes both
sockets fully at the first end of stream).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from typing import Any

from . import errors
from .link import Link
from .toxic_collection import ToxicCollection

log = logging.getLogger("sselab.toxiproxy")


def split_hostport(addr: str) -> tuple[str, int]:
    """``host:port`` / ``[v6]:port`` / ``:port`` → (host, port); ValueError worded as Go's."""
    if addr.startswith("["):
        end = addr.find("]")
        if end < 0:
            raise ValueError(f"address {addr}: missing ']' in address")
        host, rest = addr[1:end], addr[end + 1:]
        if not rest.startswith(":"):
            raise ValueError(f"address {addr}: missing port in address")
        port_s = rest[1:]
    else:
        if ":" not in addr:
            raise ValueError(f"address {addr}: missing port in address")
        host, _, port_s = addr.rpartition(":")
        if ":" in host:
            raise ValueError(f"address {addr}: too many colons in address")
    if not port_s:
        return host, 0
    if not port_s.isdigit():
        raise ValueError(f"lookup tcp/{port_s}: unknown port")
    if int(port_s) > 65535:
        raise ValueError(f"address {port_s}: invalid port")
    return host, int(port_s)


def join_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def resolve_listen(addr: str) -> tuple[str, int]:
    """The IP and port a listen address means (first IPv4 address of a name, like Go)."""
    try:
        host, port = split_hostport(addr)
    except ValueError as e:
        raise errors.listen_error(f"listen tcp: {e}") from None
    if host in ("", "localhost"):
        return "127.0.0.1", port
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return host, port
    except OSError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise errors.listen_error(f"listen tcp: lookup {host}: no such host") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0]), port


class _Side(asyncio.Protocol):
    """One socket of a connection. ``reader`` is the link it feeds; ``writer`` writes into it."""

    def __init__(self, proxy: Proxy | None = None) -> None:
        self.proxy = proxy  # set on the client side only: it starts the upstream dial
        self.transport: asyncio.Transport | None = None
        self.conn: Connection | None = None
        self.reader: Link | None = None
        self.writer: Link | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.pause_reading()  # until both sockets are joined
        if self.proxy is not None:
            self.proxy._accepted(self)

    def data_received(self, data: bytes) -> None:
        if self.reader is not None:
            self.reader.feed(data)

    def eof_received(self) -> bool:
        if self.reader is not None:
            self.reader.feed_eof()
        return True  # keep our write side open: the other direction may still be flowing

    def pause_writing(self) -> None:
        if self.writer is not None:
            self.writer.pause_writing()

    def resume_writing(self) -> None:
        if self.writer is not None:
            self.writer.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.conn is not None:
            self.conn.side_lost(self)


class Connection:
    """A client and its upstream socket, joined by an upstream and a downstream link."""

    def __init__(self, proxy: Proxy, client: _Side, upstream: _Side) -> None:
        assert client.transport is not None and upstream.transport is not None
        self.proxy = proxy
        self.client, self.upstream = client, upstream
        self.closed = False
        chain = proxy.toxics.chain
        self.up = Link("upstream", client.transport, upstream.transport, self._link_done,
                       list(chain["upstream"]))
        self.down = Link("downstream", upstream.transport, client.transport, self._link_done,
                         list(chain["downstream"]))
        client.conn, client.reader, client.writer = self, self.up, self.down
        upstream.conn, upstream.reader, upstream.writer = self, self.down, self.up
        proxy.toxics.attach(self.up)
        proxy.toxics.attach(self.down)

    def _link_done(self, link: Link, kind: str) -> None:
        if self.closed:
            return
        if kind == "eof":
            if not link.dst.is_closing() and link.dst.can_write_eof():
                link.dst.write_eof()
            if self.up.done and self.down.done:
                self.close()
        elif kind == "reset":
            self.close(reset=True)
        else:
            self.close()

    def side_lost(self, side: _Side) -> None:
        """A socket closed under us: finish what it sent; nothing more can be written to it."""
        if self.closed:
            return
        assert side.writer is not None and side.reader is not None
        side.writer.stop()
        if side.reader.done:
            self.close()
        else:
            side.reader.feed_eof()

    def close(self, reset: bool = False, abort: bool = False) -> None:
        """Close both sockets: flushing what was written, at once (``abort``), or with RSTs."""
        if self.closed:
            return
        self.closed = True
        for link in (self.up, self.down):
            link.stop()
            self.proxy.toxics.detach(link)
        self.proxy._connections.discard(self)
        for side in (self.client, self.upstream):
            transport = side.transport
            if transport is None or (transport.is_closing() and not (reset or abort)):
                continue
            if reset:
                _set_linger_zero(transport)
            if reset or abort:
                transport.abort()
            else:
                transport.close()


def _set_linger_zero(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass


class Proxy:
    def __init__(self, name: str, listen: str, upstream: str) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.toxics = ToxicCollection()
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._dials: set[asyncio.Task[None]] = set()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [spec.to_json() for spec in self.toxics.all()],
        }

    async def start(self) -> None:
        """Listen on ``self.listen``; a failure raises Toxiproxy's 500 error text."""
        if self.enabled:
            return
        host, port = await resolve_listen(self.listen)
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: _Side(self), host, port)
        except OSError as e:
            reason = os.strerror(e.errno).lower() if e.errno else str(e)
            addr = join_hostport(host, port)
            raise errors.listen_error(f"listen tcp {addr}: bind: {reason}") from None
        bound = self._server.sockets[0].getsockname()
        self.listen = join_hostport(bound[0], bound[1])
        self.enabled = True
        log.info("proxy %s listening on %s, upstream %s", self.name, self.listen, self.upstream)

    def stop(self) -> None:
        """Stop listening and close every live connection (and pending upstream dial)."""
        if not self.enabled:
            return
        self.enabled = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._dials):
            task.cancel()
        for conn in list(self._connections):
            conn.close(abort=True)
        log.info("proxy %s stopped", self.name)

    async def differs(self, listen: str, upstream: str) -> bool:
        host, port = await resolve_listen(listen)
        return self.listen != join_hostport(host, port) or self.upstream != upstream

    def _accepted(self, client: _Side) -> None:
        task = asyncio.get_running_loop().create_task(self._dial(client))
        self._dials.add(task)
        task.add_done_callback(self._dials.discard)

    async def _dial(self, client: _Side) -> None:
        assert client.transport is not None
        loop = asyncio.get_running_loop()
        try:
            host, port = split_hostport(self.upstream)
            _, upstream = await loop.create_connection(_Side, host or "127.0.0.1", port)
        except asyncio.CancelledError:
            client.transport.abort()
            raise
        except (OSError, ValueError) as e:
            log.warning("proxy %s: unable to open connection to upstream %s: %s",
                        self.name, self.upstream, e)
            client.transport.close()
            return
        if client.lost or not self.enabled:
            upstream.transport.close()  # type: ignore[union-attr]
            return
        self._connections.add(Connection(self, client, upstream))
        client.transport.resume_reading()
        upstream.transport.resume_reading()  # type: ignore[union-attr]
