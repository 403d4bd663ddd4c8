"""One answer, from the upstream to the browser: the heart of the reference app.

:func:`relay` sends ``start``, then one ``token`` event per upstream text delta as soon as it is
parsed, then exactly one of ``done`` or ``error``; the answer in the store follows along and
ends ``completed``, ``failed`` or ``stopped``. The rules it follows:

- read the upstream only as fast as the browser takes the events: each read is written (and
  the writer drains when its buffer fills) before the next read, so a slow browser slows the
  upstream down instead of filling memory;
- when the browser goes away the handler is cancelled (the server runs with
  ``handler_cancellation=True``) and the upstream response is closed in a ``finally`` at once,
  so the provider sees the disconnect and stops generating;
- an upstream that sends no data event for ``idle_timeout`` seconds (its own keep-alive comments
  do not count) is closed and reported as a ``timeout`` error;
- while waiting, a ``: keep-alive`` comment goes to the browser whenever nothing was written for
  ``keepalive_interval`` seconds, so idle timers on the way do not cut the stream;
- any failure after the first token becomes an ``error`` event *after* the tokens already sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from .broken import Flags, ReadAhead, naive_decode
from .sse import SSEParser, comment, frame
from .store import Answer
from .upstream import UpstreamError, interpret, open_stream

T = TypeVar("T")
log = logging.getLogger("sselab_reference_app")

STREAM_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    # no cache may hold it back or replay it; no proxy may transform it (e.g. gzip it, which
    # buffers: Express's compression middleware honours no-transform)
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx (and proxies that copy it): pass each chunk on at once
}


class ClientGone(Exception):
    """A write to the browser failed: it has gone away."""


class IdleTimeout(Exception):
    pass


class Downstream:
    """The only place that writes to the browser."""

    def __init__(self, request: web.Request, headers: Mapping[str, str], *,
                 buffered: bool = False, ignore_disconnect: bool = False) -> None:
        self.request = request
        self.response = web.StreamResponse(headers=headers)
        self.last_write = asyncio.get_running_loop().time()
        self._held: list[bytes] | None = [] if buffered else None  # broken flag `buffered`
        self._ignore_disconnect = ignore_disconnect  # broken flag `no_abort`
        self._gone = False

    async def send(self, data: bytes) -> None:
        self.last_write = asyncio.get_running_loop().time()
        if self._held is not None:
            self._held.append(data)
        else:
            await self._write(data)

    async def close(self) -> None:
        if self._held is not None:
            data, self._held = b"".join(self._held), None
            await self._write(data)
        if not self._gone:
            await self._guard(self.response.write_eof())

    async def _write(self, data: bytes) -> None:
        if self._gone:
            return
        if not self.response.prepared:
            await self._guard(self.response.prepare(self.request))
        await self._guard(self.response.write(data))

    async def _guard(self, aw: Awaitable[Any]) -> None:
        try:
            await aw
        except ConnectionError:
            self._gone = True
            if not self._ignore_disconnect:
                raise ClientGone() from None


class Watchdog:
    """Awaits upstream steps, sending keep-alives meanwhile and enforcing the idle timeout."""

    def __init__(self, out: Downstream, idle_timeout: float | None,
                 keepalive_interval: float) -> None:
        self.out, self.idle_timeout, self.keepalive = out, idle_timeout, keepalive_interval
        self.loop = asyncio.get_running_loop()
        self.last_progress = self.loop.time()

    def progress(self) -> None:
        self.last_progress = self.loop.time()

    async def wait(self, aw: Awaitable[T]) -> T:
        task = asyncio.ensure_future(aw)
        returned = False
        try:
            while True:
                wake = self.out.last_write + self.keepalive
                if self.idle_timeout:
                    wake = min(wake, self.last_progress + self.idle_timeout)
                done, _ = await asyncio.wait((task,), timeout=max(0.0, wake - self.loop.time()))
                if done:
                    returned = True
                    return task.result()
                now = self.loop.time()
                if self.idle_timeout and now >= self.last_progress + self.idle_timeout:
                    raise IdleTimeout()
                if now >= self.out.last_write + self.keepalive:
                    await self.out.send(comment("keep-alive"))
        finally:
            if not returned:  # cancelled, timed out or the browser left: drop the step
                task.cancel()
                task.add_done_callback(_close_result)


def _close_result(task: asyncio.Future[Any]) -> None:
    """A dropped step that finished anyway may hold an open response: close it."""
    if not task.cancelled() and task.exception() is None:
        close: Callable[[], Any] | None = getattr(task.result(), "close", None)
        if close is not None:
            close()


async def relay(session: aiohttp.ClientSession, answer: Answer, out: Downstream, *,
                base_url: str, api_key: str, idle_timeout: float | None,
                keepalive_interval: float, flags: Flags,
                extra_headers: Mapping[str, str] | None = None) -> None:
    """Stream ``answer`` to ``out``; leaves ``answer`` finished in every case."""
    watch = Watchdog(out, None if flags.no_idle_timeout else idle_timeout, keepalive_interval)
    try:
        await out.send(frame("start", {"answer_id": answer.id, "model": answer.model}))
        try:
            finish_reason = await _stream(session, answer, out, watch, flags, base_url, api_key,
                                          extra_headers or {})
        except UpstreamError as err:
            if not flags.swallow_errors:
                answer.finish("failed", error=err.payload())
                await out.send(frame("error", {**err.payload(), "answer_id": answer.id}))
                await out.close()
                return
            finish_reason = "stop"  # broken flag `swallow_errors`: pretend all went well
        answer.finish("completed", finish_reason=finish_reason)
        await out.send(frame("done", {"finish_reason": finish_reason, "answer_id": answer.id}))
        await out.close()
    except (asyncio.CancelledError, ClientGone):
        answer.finish("stopped")
        raise
    except Exception:  # a bug: say so in the stream rather than leave the browser hanging
        log.exception("answer %s failed", answer.id)
        error = {"message": "The app failed while answering.", "kind": "internal"}
        answer.finish("failed", error=error)
        with contextlib.suppress(Exception):
            await out.send(frame("error", {**error, "answer_id": answer.id}))
            await out.close()


async def _stream(session: aiohttp.ClientSession, answer: Answer, out: Downstream,
                  watch: Watchdog, flags: Flags, base_url: str, api_key: str,
                  extra_headers: Mapping[str, str]) -> str:
    """Open the upstream and relay its tokens; returns the finish reason. The upstream response
    is closed on every way out (released for reuse only after a clean end)."""
    resp: aiohttp.ClientResponse | None = None
    readahead: ReadAhead | None = None
    clean = False
    try:
        resp = await watch.wait(open_stream(session, base_url, api_key, answer.model,
                                            answer.messages, extra_headers))
        watch.progress()
        read = resp.content.readany
        if flags.unbounded_readahead:
            readahead = ReadAhead(resp)
            read = readahead.read
        reason = await _pump(read, answer, out, watch, flags)
        clean = True
        return reason
    except IdleTimeout:
        raise UpstreamError("timeout", f"The model sent nothing for {watch.idle_timeout:g} s, so "
                                       "the answer was cut off.") from None
    except aiohttp.ClientError:
        raise UpstreamError("upstream_disconnected", "The connection to the model provider "
                            "broke before the answer finished.") from None
    finally:
        if readahead is not None:
            readahead.close()
        if resp is not None:
            resp.release() if clean else resp.close()


async def _pump(read: Callable[[], Awaitable[bytes]], answer: Answer, out: Downstream,
                watch: Watchdog, flags: Flags) -> str:
    parser = SSEParser()
    finish_reason: str | None = None
    while True:
        chunk = await watch.wait(read())
        if not chunk:  # end of body
            if finish_reason is not None:  # finished, only the [DONE] line is missing
                return finish_reason
            raise UpstreamError("upstream_disconnected", "The model provider ended the stream "
                                "before the answer finished.")
        if flags.naive_utf8:
            chunk = naive_decode(chunk)
        frames: list[bytes] = []
        try:
            for event in parser.feed(chunk):
                delta = interpret(event)
                watch.progress()
                if delta.text:
                    answer.append(delta.text)
                    frames.append(frame("token", {"text": delta.text}))
                finish_reason = delta.finish_reason or finish_reason
                if delta.done:
                    return finish_reason or "stop"
        finally:  # whatever was parsed goes out, also before an error
            if frames:
                await out.send(b"".join(frames))
