"""A tiny, controllable SSE upstream for the buffering tests and the nginx characterisation.

``GET|POST /sse?size=50&count=10&interval=0.1&accel=no&ctype=text/event-stream`` writes
``count`` events of exactly ``size`` bytes each at absolute times ``first_delay + k * interval``
after the headers; ``accel`` (when given) is sent as ``X-Accel-Buffering``, ``cc`` replaces the
``Cache-Control: no-cache`` header, ``fill=random`` makes payloads poorly compressible.
Other routes misbehave on purpose: ``/reset`` (RST after two events), ``/hang`` (never answers),
``/slow_body`` (headers, one event, then silence).

Later these tests may switch to sselab's own simulator (``POST /sse`` with
``X-Sselab-Scenario``); this fixture stays for the characterisation, where exact sizes matter.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import time
from dataclasses import dataclass, field

from aiohttp import web

_LETTERS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"


def event_bytes(i: int, size: int, fill: str = "x") -> bytes:
    """Event ``i`` as exactly ``size`` bytes: ``data: NNNN xxx...\\n\\n`` (size >= 14).

    ``fill="random"`` pads with seeded pseudo-random letters (compresses ~4:3, not ~100:1).
    """
    head = f"data: {i:04d} ".encode()
    n = size - len(head) - 2
    if fill == "random":
        rnd = random.Random(i)
        pad = bytes(rnd.choice(_LETTERS) for _ in range(n))
    else:
        pad = b"x" * n
    return head + pad + b"\n\n"


@dataclass
class Upstream:
    url: str
    writes: list[float] = field(default_factory=list)  # monotonic time of each event write
    requests: list[dict] = field(default_factory=list)


async def _sse(request: web.Request) -> web.StreamResponse:
    q = request.query
    size, count = int(q.get("size", 50)), int(q.get("count", 10))
    interval = float(q.get("interval", 0.1))
    first_delay = float(q.get("first_delay", 0))
    up = request.app[UPSTREAM]
    body = await request.read()
    up.requests.append({"version": request.version, "headers": dict(request.headers),
                        "body": body, "method": request.method})
    resp = web.StreamResponse(headers={"Content-Type": q.get("ctype", "text/event-stream"),
                                       "Cache-Control": q.get("cc", "no-cache")})
    if "accel" in q:
        resp.headers["X-Accel-Buffering"] = q["accel"]
    await resp.prepare(request)
    if first_delay:
        await asyncio.sleep(first_delay)
    t0 = time.monotonic()
    for k in range(count):
        delay = t0 + k * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await resp.write(event_bytes(k, size, q.get("fill", "x")))
        up.writes.append(time.monotonic())
    await resp.write_eof()
    return resp


async def _reset(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for k in range(2):
        await resp.write(event_bytes(k, 50))
        await asyncio.sleep(0.05)
    sock = request.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.transport.abort()
    return resp


async def _hang(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(3600)
    raise web.HTTPOk()


async def _slow_body(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    await resp.write(event_bytes(0, 50))
    await asyncio.sleep(3600)
    return resp


UPSTREAM = web.AppKey("upstream", Upstream)


def make_app(up: Upstream) -> web.Application:
    app = web.Application(handler_args={"handler_cancellation": True})
    app[UPSTREAM] = up
    for path, handler in (("/sse", _sse), ("/reset", _reset), ("/hang", _hang),
                          ("/slow_body", _slow_body)):
        app.router.add_route("*", path, handler)
    return app


class running_upstream:
    """``async with running_upstream() as up:`` serves the app on 127.0.0.1, a free port."""

    def __init__(self) -> None:
        self.up = Upstream(url="")
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Upstream:
        self._runner = web.AppRunner(make_app(self.up), access_log=None,
                                     handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.up.url = f"http://127.0.0.1:{port}"
        return self.up

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
