"""The only code that writes to a client socket: prepare, write-then-drain, EOF, FIN, RST.

Every byte sselab sends to a client goes through :func:`send_stream`, :func:`send_body` or
:func:`send_relay` (the recording proxy's), which also record each write (time, size, time
spent waiting for a slow reader to drain) on the request's
:class:`~sselab.server.recorder.RequestRecord`. Disconnects are noticed at once even while
stalled: the server runs with aiohttp's ``handler_cancellation``, so a client that goes away
cancels the handler, and ``finally`` records when.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from multidict import CIMultiDict

from .. import clock
from ..encoders.base import Frame, Item
from ..script.events import Close, Drop, Reset, Stall
from .pacer import END, Pacer
from .recorder import RequestRecord

# A request may carry a future under this key (set by ``sselab.server.resume_routes``): when it
# resolves, the stream ends cleanly after what was written (a cancelled background response).
STOP_KEY = "sselab.stop"


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


def _fast_writer(request: web.Request, writer: AbstractStreamWriter,
                 record: RequestRecord) -> Callable[[bytes, float], bool]:
    """A synchronous write for the pacer; False when the task must take over (slow reader or
    gone). Headers are already out (a StreamResponse sends them in ``prepare``), so a frame is
    written as one HTTP/1.1 chunk, exactly as aiohttp's own writer frames it."""
    transport, protocol = request.transport, request.protocol
    chunked = getattr(writer, "chunked", True)
    clock_now = asyncio.get_running_loop().time
    wrote = record.wrote

    def write_now(data: bytes, due: float) -> bool:
        if transport is None or transport.is_closing() or protocol.writing_paused:
            return False
        t = clock_now()
        transport.write(b"%x\r\n%b\r\n" % (len(data), data) if chunked else data)
        wrote(t, len(data), 0.0, t - due)
        return True

    return write_now


async def send_stream(
    request: web.Request,
    record: RequestRecord,
    items: Iterable[Item],
    *,
    headers: Mapping[str, str],
    keepalive: bytes,
    max_stall: float,
    pacer: Pacer,
    outcome: str = "completed",
    status: int = 200,
    headers_at: float = 0.0,
) -> web.StreamResponse:
    """Stream ``items`` (frames due at ``record.received + at``) and act on control events.

    Frames go out through the shared :class:`Pacer` (no task wake-up per token); this task only
    wakes for what must be awaited: a slow reader, a stall, a close or reset, the end. The status
    line and headers go out at ``headers_at`` (a replayed recording's own time).
    """
    resp = web.StreamResponse(status=status, headers=CIMultiDict(headers))
    t0 = record.received
    loop = asyncio.get_running_loop()
    stream = iter(items)
    pending: Item | None = None
    stop: asyncio.Future[None] | None = request.get(STOP_KEY)
    try:
        if headers_at > 0:
            await clock.sleep_until(t0 + headers_at)
        writer = await resp.prepare(request)
        assert writer is not None
        record.status = status  # sent (a client gone before the headers gets no status)
        write_now = _fast_writer(request, writer, record)

        def ended() -> None:  # settle the record with the last write, not a loop turn later
            record.finish(outcome)

        while True:
            job = pacer.run(stream, t0, write_now, pending, on_end=ended)
            pending = None
            try:
                if stop is not None:
                    await asyncio.wait((job.future, stop), return_when=asyncio.FIRST_COMPLETED)
                    if not job.future.done():
                        outcome = "cancelled"
                        break
                reason, item = await job.future
            finally:
                job.cancelled = True
            if reason == END or item is None:
                break
            due = t0 + item.at
            if isinstance(item, Frame):  # slow reader: write, then wait for it to drain
                if request.transport is None or request.transport.is_closing():
                    raise ConnectionResetError("the client went away")
                await _send(writer, resp, record, item.data, loop, due)
                continue
            event = item.event
            if isinstance(event, Stall):
                if event.seconds is None:  # nothing after a stall with no end is ever sent
                    await _stall_forever(request, writer, resp, record, keepalive,
                                         event.keepalive, due + max_stall, max_stall)
                    raise _Ended
                if event.keepalive:
                    await _keepalives(writer, resp, record, keepalive, event.keepalive,
                                      due + event.seconds)
            elif isinstance(event, (Close, Reset, Drop)):
                await clock.sleep_until(due)
                await _flush(request)
                if isinstance(event, Close) or (isinstance(event, Drop) and not event.reset):
                    if request.transport:
                        request.transport.close()
                    record.finish("fault_closed")
                else:
                    _reset(request)
                    record.finish("fault_reset")
                raise _Ended
        await resp.write_eof()
        record.finish(outcome)
    except _Ended:
        pass
    except ConnectionError:  # gone (a half-closed client too): nothing to send, nothing to log
        record.finish("client_disconnected")
    except asyncio.CancelledError:  # gone, or the server is stopping (the recorder knows)
        record.finish("client_disconnected")
        raise
    finally:
        if not record.done:  # anything unexpected: keep what was recorded, say how it ended
            record.finish("client_disconnected")
    return resp


async def _stall_forever(request: web.Request, writer: AbstractStreamWriter,
                         resp: web.StreamResponse, record: RequestRecord, keepalive: bytes,
                         every: float | None, until: float, max_stall: float) -> None:
    if every:
        await _keepalives(writer, resp, record, keepalive, every, until)
    await clock.sleep_until(until)
    await _flush(request)
    if request.transport:
        request.transport.close()
    record.error = f"stalled for the server's max_stall ({max_stall:g} s); closed"
    record.finish("fault_closed")


async def _send(writer: AbstractStreamWriter, resp: web.StreamResponse, record: RequestRecord,
                data: bytes, loop: asyncio.AbstractEventLoop, due: float) -> None:
    """Write, then drain: a slow reader makes us wait here, and the wait is recorded, also when
    the reader leaves (or the server stops) while we wait: the bytes were handed over."""
    start = loop.time()
    record.blocked_since = start
    handed = False
    try:
        await writer.write(data, drain=False)  # to the transport: never waits
        handed = True
        await writer.drain()  # returns at once unless the transport is above its high-water mark
    finally:
        record.blocked_since = None
        if handed:
            record.wrote(start, len(data), loop.time() - start, start - due)


async def _keepalives(writer: AbstractStreamWriter, resp: web.StreamResponse, record: RequestRecord,
                      keepalive: bytes, every: float, until: float) -> None:
    loop = asyncio.get_running_loop()
    tick = loop.time() + every
    while tick < until:
        await clock.sleep_until(tick)
        await _send(writer, resp, record, keepalive, loop, tick)
        tick += every


RELAY_BUFFER = 1 << 20  # bytes a relayed answer may have queued for a slow client


async def send_relay(
    request: web.Request,
    record: RequestRecord,
    status: int,
    headers: Mapping[str, str],
    source: Any,
    *,
    framing: str,
    content_length: int | None = None,
) -> tuple[web.StreamResponse, str]:
    """Relay an upstream's answer as it arrives (``sselab record``; ``source`` is a
    :class:`sselab.record.upstream.Upstream`): each read is written the moment it is read, from
    the source's ``data_received``; a slow reader pauses the source until it drains. A
    ``chunked`` body is relayed with the upstream's own chunk framing; a body delimited by the
    end of the connection is framed here. Returns how the source ended ("eof", "close",
    "reset"; the connection ended the same way), with the response."""
    resp = web.StreamResponse(status=status, headers=CIMultiDict(headers))
    if content_length is not None:
        resp.content_length = content_length
    record.status = status
    loop = asyncio.get_running_loop()
    try:
        writer = await resp.prepare(request)
        assert writer is not None
        raw = framing == "chunked" or not getattr(writer, "chunked", False)
        if framing == "chunked":
            writer.chunked = False  # type: ignore[attr-defined] # the upstream's framing is kept
        transport, protocol = request.transport, request.protocol
        if transport is not None:  # room for a few reads: the upstream is paused less often
            transport.set_write_buffer_limits(high=RELAY_BUFFER)
        paused = asyncio.Event()
        wrote = record.wrote

        def sink(data: bytes) -> bool:
            if transport is None or transport.is_closing():
                return True  # the client is gone: stop reading the upstream
            t = loop.time()
            transport.write(data if raw else b"%x\r\n%b\r\n" % (len(data), data))
            wrote(t, len(data), 0.0, 0.0)
            return bool(protocol.writing_paused)

        source.attach(sink, paused.set)
        while not source.done.done():
            waiting = asyncio.ensure_future(paused.wait())
            try:
                await asyncio.wait([source.done, waiting], return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
            if paused.is_set():  # a slow reader: wait for it, then read the upstream again
                paused.clear()
                record.blocked_since = start = loop.time()
                await writer.drain()
                record.blocked_since = None
                record.drain_wait += loop.time() - start
                source.resume()
        how: str = source.done.result()
        if how == "eof":
            await resp.write_eof()
            record.finish("http_error" if status >= 400 else "completed")
            return resp, how
        await _flush(request)
        if how == "reset":
            _reset(request)
            record.finish("fault_reset")
        else:
            if request.transport:
                request.transport.close()
            record.finish("fault_closed")
        return resp, how
    except (ConnectionError, asyncio.CancelledError):
        record.finish("client_disconnected")
        raise
    finally:
        if not record.done:
            record.finish("client_disconnected")


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
    try:
        await clock.sleep_until(record.received + due)
        writer = await resp.prepare(request)
        assert writer is not None
        record.status = status
        await _send(writer, resp, record, data, asyncio.get_running_loop(), record.received + due)
        await resp.write_eof()
        record.finish(outcome)
    except ConnectionError:
        record.finish("client_disconnected")
    except asyncio.CancelledError:
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
    except ConnectionError:
        record.finish("client_disconnected")
    except asyncio.CancelledError:
        record.finish("client_disconnected")
        raise
    return web.StreamResponse()  # never sent: the connection is gone
