"""Bad input: the proxy answers 502/504 (or truncates mid-body) and logs why, in nginx's terms."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from buffering_real_nginx import free_port
from buffering_upstream import Upstream

from sselab.buffering import BufferingProxy, fetch_trace

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Start a raw TCP upstream with a given handler; returns its URL."""
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def get(url: str, path: str = "/sse", **options: float):
    async with BufferingProxy("nginx", url, **options) as proxy:
        return await fetch_trace(proxy.url + path, timeout=10)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "sselab.buffering")


async def test_unreachable_upstream_is_502(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "sselab.buffering")
    trace = await get(f"http://127.0.0.1:{free_port()}")
    assert trace.status == 502 and b"502 Bad Gateway" in trace.body
    assert "connect() failed (111: Connection refused) while connecting to upstream" in \
        logged(caplog)
    assert "[nginx] 502" in logged(caplog)


async def test_upstream_reset_before_its_head_is_502(raw_server, caplog) -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    caplog.set_level(logging.WARNING, "sselab.buffering")
    trace = await get(await raw_server(reset))
    assert trace.status == 502
    assert "while reading response header from upstream" in logged(caplog)


async def test_upstream_closing_before_its_head_is_502(raw_server, caplog) -> None:
    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    caplog.set_level(logging.WARNING, "sselab.buffering")
    trace = await get(await raw_server(close))
    assert trace.status == 502
    assert "upstream prematurely closed connection while reading response header" in \
        logged(caplog)


async def test_non_http_upstream_is_502(raw_server, caplog) -> None:
    async def ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()
        writer.close()

    caplog.set_level(logging.WARNING, "sselab.buffering")
    trace = await get(await raw_server(ssh))
    assert trace.status == 502
    assert "upstream sent no valid HTTP/1.x header" in logged(caplog)
    assert "SSH-2.0" in trace.header("x-sselab-proxy-error")


async def test_too_big_upstream_head_is_502(raw_server, caplog) -> None:
    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * 5000 + b"\r\n\r\n")
        await writer.drain()
        writer.close()

    caplog.set_level(logging.WARNING, "sselab.buffering")
    trace = await get(await raw_server(big))
    assert trace.status == 502
    assert "upstream sent too big header" in logged(caplog)


async def test_silent_upstream_is_504_after_the_read_timeout(upstream: Upstream, caplog) -> None:
    caplog.set_level(logging.WARNING, "sselab.buffering")
    trace = await get(upstream.url, "/hang", read_timeout=0.3)
    assert trace.status == 504 and b"504 Gateway Time-out" in trace.body
    assert 0.25 < trace.arrivals[0].t < 3
    assert "upstream timed out (0.3s) while reading response header from upstream" in \
        logged(caplog)


async def test_reset_mid_body_truncates_and_drops_what_nginx_held(upstream: Upstream,
                                                                  caplog) -> None:
    caplog.set_level(logging.WARNING, "sselab.buffering")
    trace = await get(upstream.url, "/reset")
    assert trace.status == 200 and not trace.complete
    assert trace.events == 0  # the two buffered events never left, as with real nginx
    assert "truncated: recv() failed (104: Connection reset by peer) while reading upstream" \
        in logged(caplog)


async def test_reset_mid_body_unbuffered_keeps_what_was_sent(upstream: Upstream) -> None:
    async with BufferingProxy("passthrough", upstream.url) as proxy:
        trace = await fetch_trace(proxy.url + "/reset", timeout=10)
    assert trace.status == 200 and not trace.complete and trace.events == 2


async def test_stall_mid_body_truncates_after_the_read_timeout(upstream: Upstream,
                                                               caplog) -> None:
    caplog.set_level(logging.WARNING, "sselab.buffering")
    trace = await get(upstream.url, "/slow_body", read_timeout=0.3)
    assert trace.status == 200 and not trace.complete and trace.events == 1
    assert "upstream timed out (0.3s) while reading upstream" in logged(caplog)


@pytest.mark.parametrize(("path", "status"), [("/reset", 502), ("/slow_body", 504)])
async def test_full_buffer_turns_mid_body_failures_into_errors(upstream: Upstream, path: str,
                                                               status: int) -> None:
    async with BufferingProxy("full-buffer", upstream.url, read_timeout=0.3) as proxy:
        trace = await fetch_trace(proxy.url + path, timeout=10)
    assert trace.status == status and trace.complete and trace.events == 0


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:21", "127.0.0.1:8000", "http://:80",
                                 "http://127.0.0.1:99999"])
def test_bad_upstream_url_names_the_field(url: str) -> None:
    with pytest.raises(ValueError, match="^upstream: "):
        BufferingProxy("nginx", url)


async def test_early_close_mid_chunked_body_releases_what_was_held(raw_server, caplog) -> None:
    async def early(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n8\r\ndata: a\n\r\n")
        await writer.drain()
        writer.close()  # a clean FIN, but the chunked body never ended

    caplog.set_level(logging.WARNING, "sselab.buffering")
    trace = await get(await raw_server(early))
    assert trace.status == 200 and not trace.complete and trace.body == b"data: a\n"
    assert "upstream prematurely closed connection while reading upstream" in logged(caplog)
