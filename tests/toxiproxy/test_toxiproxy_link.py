"""sselab's own proxy internals over sockets (embedded server only): live toxic changes keep the
byte stream intact and return to the fast path, half-closes pass through, back-pressure holds."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket

import aiohttp
import pytest

from sselab.toxiproxy import ToxiproxyServer

PATTERN = bytes(random.Random(7).randrange(256) for _ in range(65_536))


@pytest.fixture
async def server():
    async with ToxiproxyServer() as srv, aiohttp.ClientSession(srv.api_url) as http:
        srv.http = http
        yield srv


async def _tcp_server(handler) -> tuple[asyncio.Server, str]:
    srv = await asyncio.start_server(handler, "127.0.0.1", 0)
    return srv, f"127.0.0.1:{srv.sockets[0].getsockname()[1]}"


async def _proxy(server, upstream: str, name: str = "p") -> tuple[str, int]:
    async with server.http.post("/proxies", json={"name": name, "upstream": upstream,
                                                  "listen": "127.0.0.1:0"}) as resp:
        assert resp.status == 201
        host, port = (await resp.json())["listen"].rsplit(":", 1)
        return host, int(port)


def _links(server, name: str = "p"):
    proxy = server.collection.proxies[name]
    return [link for conn in proxy._connections for link in (conn.up, conn.down)]


async def test_live_toxic_churn_keeps_every_byte_in_order(server):
    total = 4 * 1024 * 1024

    async def stream(reader, writer):
        await reader.read(1)
        rng, sent = random.Random(1), 0
        while sent < total:
            n = min(rng.randrange(1, 40_000), total - sent)
            writer.write((PATTERN * ((sent + n) // len(PATTERN) + 2))[sent % 65536:][:n])
            sent += n
            await writer.drain()
        writer.close()

    upstream, up_addr = await _tcp_server(stream)
    host, port = await _proxy(server, up_addr)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"go")
    choices = [
        {"type": "slicer", "attributes": {"average_size": 3000, "size_variation": 1000}},
        {"type": "latency", "attributes": {"latency": 2, "jitter": 1}},
        {"type": "bandwidth", "attributes": {"rate": 50_000}},
        {"type": "noop"},
        {"type": "slow_close", "attributes": {"delay": 1}},
    ]
    rng = random.Random(3)

    async def churn():
        names: list[str] = []
        for i in range(60):
            if names and rng.random() < 0.45:
                name = names.pop(rng.randrange(len(names)))
                async with server.http.delete(f"/proxies/p/toxics/{name}") as resp:
                    assert resp.status == 204
            else:
                body = dict(rng.choice(choices), name=f"t{i}")
                async with server.http.post("/proxies/p/toxics", json=body) as resp:
                    assert resp.status == 200
                names.append(f"t{i}")
            await asyncio.sleep(0.005)
        for name in names:
            await server.http.delete(f"/proxies/p/toxics/{name}")

    churner = asyncio.create_task(churn())
    received = await asyncio.wait_for(reader.read(), 30)  # until EOF
    await churner
    expected = (PATTERN * (total // len(PATTERN) + 2))[:total]
    assert len(received) == total and received == expected
    writer.close()
    upstream.close()


async def test_link_returns_to_fast_path(server):
    async def echo(reader, writer):
        while data := await reader.read(65536):
            writer.write(data)
        writer.close()

    upstream, up_addr = await _tcp_server(echo)
    host, port = await _proxy(server, up_addr)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"a")
    assert await reader.readexactly(1) == b"a"
    assert all(link.head is None for link in _links(server))
    await server.http.post("/proxies/p/toxics", json={"type": "latency", "name": "l",
                                                      "attributes": {"latency": 30}})
    assert [link.head is None for link in _links(server)] == [True, False] or \
        [link.head is None for link in _links(server)] == [False, True]
    writer.write(b"b")
    await server.http.delete("/proxies/p/toxics/l")  # removed while "b" waits in the toxic
    assert await asyncio.wait_for(reader.readexactly(1), 2) == b"b"
    await asyncio.sleep(0.01)
    assert all(link.head is None and link.writer is None for link in _links(server))
    writer.close()
    upstream.close()


async def test_half_close_passes_through(server):
    async def reply_after_eof(reader, writer):
        request = await reader.read()  # until the client's half-close
        writer.write(b"got " + request)
        writer.close()

    upstream, up_addr = await _tcp_server(reply_after_eof)
    host, port = await _proxy(server, up_addr)
    for toxic in (None, {"type": "latency", "attributes": {"latency": 5}, "stream": "upstream"}):
        if toxic:
            await server.http.post("/proxies/p/toxics", json=toxic)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"question")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 2) == b"got question"
        writer.close()
    upstream.close()


@pytest.mark.parametrize("toxic", [None, {"type": "noop"},
                                   {"type": "latency", "attributes": {"latency": 1}}])
async def test_back_pressure_from_a_client_that_does_not_read(server, toxic):
    accepted = 0
    done = asyncio.Event()

    async def flood(reader, writer):
        nonlocal accepted
        await reader.read(1)
        block = b"z" * 65536
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            async with asyncio.timeout(0.7):
                for _ in range(2000):  # up to 128 MB
                    writer.write(block)
                    await writer.drain()
                    accepted += len(block)
        done.set()
        writer.close()

    upstream, up_addr = await _tcp_server(flood)
    host, port = await _proxy(server, up_addr)
    if toxic:
        await server.http.post("/proxies/p/toxics", json=toxic)
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(b"g")
    await asyncio.wait_for(done.wait(), 5)
    assert accepted < 40 * 1024 * 1024  # socket buffers + the pipeline's cap, not everything
    sock.close()
    upstream.close()


async def test_disable_closes_many_connections(server):
    async def hold(reader, writer):
        await reader.read()
        writer.close()

    upstream, up_addr = await _tcp_server(hold)
    host, port = await _proxy(server, up_addr)
    conns = [await asyncio.open_connection(host, port) for _ in range(20)]
    await asyncio.sleep(0.05)
    assert len(server.collection.proxies["p"]._connections) == 20
    async with server.http.patch("/proxies/p", json={"enabled": False}) as resp:
        assert (await resp.json())["enabled"] is False
    for reader, writer in conns:
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
    assert not server.collection.proxies["p"]._connections
    upstream.close()
