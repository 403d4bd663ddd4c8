"""The only code that writes to a client socket: prepare, write-then-drain, EOF, FIN, RST.

Every byte sselab sends to a client goes through :func:`send_stream` or :func:`send_body`, which
also record each write (time, size, time spent waiting for a slow reader to drain) on the
request's :class:`~simulator.server.recorder.RequestRecord`. Disconnects are noticed at once even
while stalled: the server runs with aiohttp's ``handler_cancellation``, so a client that goes
away cancels the handler, and ``finally`` records when.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from .. import clock
from ..encoders.base import Frame, Item
from ..script.events import Close, Reset, Stall
from .recorder import RequestRecord


class _Ended(Exception):
    """The stream ended on purpose (FIN or RST): the connection is gone."""


async def _flush(request: web.Request, timeout: float = 2.0) -> None:
    """Wait (bounded) until what was written has left the process."""
    transport = request.transport
    deadline = clock.now() + timeout
    while transport is not None and transport.get_write_buffer_size() and clock.now() < deadline:
        await asyncio.sleep(0.001)


def _reset(request: web.Request) -> None:
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def send_stream(
    request: web.Request,
    record: RequestRecord,
    items: Iterable[Item],
    *,
    headers: Mapping[str, str],
    keepalive: bytes,
    max_stall: float,
    outcome: str = "completed",
) -> web.StreamResponse:
    """Stream ``items`` (frames due at ``record.received + at``) and act on control events."""
    resp = web.StreamResponse(status=200, headers=dict(headers))
    record.status = 200
    t0 = record.received
    loop = asyncio.get_running_loop()
    keepalive_every: float | None = None
    stall_end: float | None = None  # a stall with no end: wait until here at most
    try:
        writer = await resp.prepare(request)
        assert writer is not None
        for item in items:
            due = t0 + item.at
            if isinstance(item, Frame):
                if keepalive_every:
                    await _keepalives(writer, resp, record, keepalive, keepalive_every, due)
                    keepalive_every = None
                await clock.sleep_until(due)
                await _send(writer, resp, record, item.data, loop)
                continue
            event = item.event
            if isinstance(event, Stall):
                keepalive_every = event.keepalive
                if event.seconds is None:  # nothing after a stall with no end is ever sent
                    stall_end = due + max_stall
                    break
            elif isinstance(event, (Close, Reset)):
                await clock.sleep_until(due)
                await _flush(request)
                if isinstance(event, Close):
                    request.transport.close() if request.transport else None
                    record.finish("fault_closed")
                else:
                    _reset(request)
                    record.finish("fault_reset")
                raise _Ended
        if stall_end is not None:
            if keepalive_every:
                await _keepalives(writer, resp, record, keepalive, keepalive_every, stall_end)
            await clock.sleep_until(stall_end)
            await _flush(request)
            if request.transport:
                request.transport.close()
            record.finish("fault_closed")
            record.error = f"stalled for the server's max_stall ({max_stall:g} s); closed"
            raise _Ended
        await resp.write_eof()
        record.finish(outcome)
    except _Ended:
        pass
    except (ConnectionError, asyncio.CancelledError):
        record.finish("client_disconnected")
        raise
    finally:
        if not record.done:  # anything unexpected: keep what was recorded, say how it ended
            record.finish("client_disconnected")
    return resp


async def _send(writer: AbstractStreamWriter, resp: web.StreamResponse, record: RequestRecord,
                data: bytes, loop: asyncio.AbstractEventLoop) -> None:
    """Write, then drain: a slow reader makes us wait here, and the wait is recorded."""
    start = loop.time()
    record.blocked_since = start
    await resp.write(data)
    await writer.drain()  # returns at once unless the transport is above its high-water mark
    record.blocked_since = None
    record.wrote(start, len(data), loop.time() - start)


async def _keepalives(writer: AbstractStreamWriter, resp: web.StreamResponse, record: RequestRecord,
                      keepalive: bytes, every: float, until: float) -> None:
    loop = asyncio.get_running_loop()
    tick = loop.time() + every
    while tick < until:
        await clock.sleep_until(tick)
        await _send(writer, resp, record, keepalive, loop)
        tick += every


async def send_body(
    request: web.Request,
    record: RequestRecord,
    status: int,
    body: Any,
    *,
    headers: Mapping[str, str],
    due: float = 0.0,
    outcome: str = "completed",
) -> web.StreamResponse:
    """Send one complete JSON body (non-streaming answers and errors) at ``received + due``."""
    data = json.dumps(body, ensure_ascii=False).encode()
    resp = web.StreamResponse(status=status, headers={**headers,
                                                      "Content-Type": "application/json"})
    resp.content_length = len(data)
    record.status = status
    try:
        await clock.sleep_until(record.received + due)
        writer = await resp.prepare(request)
        assert writer is not None
        await _send(writer, resp, record, data, asyncio.get_running_loop())
        await resp.write_eof()
        record.finish(outcome)
    except (ConnectionError, asyncio.CancelledError):
        record.finish("client_disconnected")
        raise
    finally:
        if not record.done:
            record.finish("client_disconnected")
    return resp


async def send_drop(request: web.Request, record: RequestRecord, event: Close | Reset | Stall,
                    *, due: float, max_stall: float) -> web.StreamResponse:
    """A non-streaming request whose scenario drops the connection (or stalls forever)."""
    try:
        if isinstance(event, Stall):
            await clock.sleep_until(record.received + due + max_stall)
            record.error = f"stalled for the server's max_stall ({max_stall:g} s); closed"
        else:
            await clock.sleep_until(record.received + due)
        if isinstance(event, Reset):
            _reset(request)
            record.finish("fault_reset")
        else:
            if request.transport:
                request.transport.close()
            record.finish("fault_closed")
    except (ConnectionError, asyncio.CancelledError):
        record.finish("client_disconnected")
        raise
    return web.StreamResponse()  # never sent: the connection is gone
