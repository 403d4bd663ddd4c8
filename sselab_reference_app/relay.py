"""One answer, from the provider to the browser: the heart of the reference app.

Two halves, joined by the :class:`~sselab_reference_app.store.Answer` (see ``live.py``):

- :func:`generate` (a task of its own) reads the provider's stream into the answer and leaves
  it finished in every case: ``completed``, ``failed`` (an upstream error or stall) or
  ``stopped`` (Stop, or the browser gone for longer than the resume grace);
- :func:`deliver` (the browser's request) sends the answer's events after the last one the
  browser has: at once what is there, then each as it comes, then exactly one of ``done`` or
  ``error``. Every event carries ``id: ANSWER_ID:N`` (0 the ``start`` event, then one per
  token, then the end), which the browser sends back as ``Last-Event-ID`` to resume.

The rules it follows:

- the provider is read only as fast as a browser takes the events (``live.MAX_LEAD_TOKENS``):
  a slow browser slows the provider down instead of filling memory;
- when the last browser connection goes away the provider call is closed after the resume
  grace, at once on Stop, so the provider sees the disconnect and stops generating;
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
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from .broken import naive_decode
from .config import Config
from .live import LiveAnswer
from .sse import SSEParser, comment, frame
from .store import Answer
from .upstream import Delta, UpstreamError, interpret, open_stream
from .upstream_responses import responses_deltas

log = logging.getLogger("sselab_reference_app")

STREAM_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    # no cache may hold it back or replay it; no proxy may transform it (e.g. gzip it, which
    # buffers: Express's compression middleware honours no-transform)
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx (and proxies that copy it): pass each chunk on at once
}
INTERNAL = {"message": "The app failed while answering.", "kind": "internal"}
STOPPED = {"message": "The answer was stopped.", "kind": "stopped"}


class ClientGone(Exception):
    """A write to the browser failed: it has gone away."""


class Downstream:
    """The only place that writes to the browser."""

    def __init__(self, request: web.Request, headers: Mapping[str, str], *,
                 buffered: bool = False) -> None:
        self.request = request
        self.response = web.StreamResponse(headers=headers)
        self.last_write = asyncio.get_running_loop().time()
        self._held: list[bytes] | None = [] if buffered else None  # broken flag `buffered`

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
        await self._guard(self.response.write_eof())

    async def _write(self, data: bytes) -> None:
        if not self.response.prepared:
            await self._guard(self.response.prepare(self.request))
        await self._guard(self.response.write(data))

    async def _guard(self, aw: Awaitable[Any]) -> None:
        try:
            await aw
        except ConnectionError:
            raise ClientGone() from None


# --- the browser's side ---------------------------------------------------------------------
def event_frames(answer: Answer, first: int) -> list[bytes]:
    """The answer's events from number ``first`` on, as far as they exist now."""
    def ident(n: int) -> str:
        return f"{answer.id}:{n}"

    out: list[bytes] = []
    if first <= 0:
        out.append(frame("start", {"answer_id": answer.id, "model": answer.model}, ident(0)))
    for n in range(max(first, 1), answer.tokens + 1):
        out.append(frame("token", {"text": answer.part(n - 1)}, ident(n)))
    end = answer.tokens + 1
    if answer.done and first <= end:
        if answer.state == "completed":
            out.append(frame("done", {"finish_reason": answer.finish_reason,
                                      "answer_id": answer.id}, ident(end)))
        else:
            error = answer.error if answer.state == "failed" and answer.error else STOPPED
            out.append(frame("error", {**error, "answer_id": answer.id}, ident(end)))
    return out


async def deliver(live: LiveAnswer, out: Downstream, *, after: int,
                  keepalive_interval: float) -> None:
    """Send ``live``'s events after number ``after`` to ``out`` until the answer's end."""
    answer = live.answer
    loop = asyncio.get_running_loop()
    sent = after  # the last event number the browser has
    chars = sum(len(answer.part(i)) for i in range(min(max(after, 0), answer.tokens)))
    live.attach()
    try:
        while True:
            seen = live.changed.version
            frames = event_frames(answer, sent + 1)
            if frames:
                tokens_before = max(sent, 0)
                await out.send(b"".join(frames))
                sent += len(frames)
                tokens = min(sent, answer.tokens)
                chars += sum(len(answer.part(i)) for i in range(tokens_before, tokens))
                live.took(tokens, chars)
            if answer.done and sent > answer.tokens:
                await out.close()
                return
            wait = out.last_write + keepalive_interval - loop.time()
            if wait <= 0:
                await out.send(comment("keep-alive"))
                continue
            await live.changed.wait(seen, wait)
    finally:
        live.detach()


# --- the provider's side --------------------------------------------------------------------
async def generate(session: aiohttp.ClientSession, live: LiveAnswer, *, config: Config,
                   extra_headers: Mapping[str, str] | None = None) -> None:
    """Read the provider's answer into ``live.answer``; it ends finished in every case."""
    answer, flags = live.answer, config.flags
    try:
        try:
            reason = await _produce(session, live, config, dict(extra_headers or {}))
        except UpstreamError as err:
            if not flags.swallow_errors:
                answer.finish("failed", error=err.payload())
                return
            reason = "stop"  # broken flag `swallow_errors`: pretend all went well
        answer.finish("completed", finish_reason=reason)
    except asyncio.CancelledError:
        answer.finish("stopped")
        raise
    except Exception:  # a bug: say so in the stream rather than leave the browser hanging
        log.exception("answer %s failed", answer.id)
        answer.finish("failed", error=INTERNAL)
    finally:
        live.changed.notify()


async def _produce(session: aiohttp.ClientSession, live: LiveAnswer, config: Config,
                   extra_headers: dict[str, str]) -> str:
    """Append the provider's text deltas to the answer; returns the finish reason."""
    flags = config.flags
    idle = None if flags.no_idle_timeout else config.idle_timeout
    if config.upstream_api == "responses":
        source = responses_deltas(session, live.answer, config, extra_headers)
    else:
        source = chat_deltas(session, live.answer, config, extra_headers)
    reason: str | None = None
    try:
        while True:
            await live.room()
            try:
                delta = await _next(source, idle)
            except StopAsyncIteration:
                if reason is not None:  # finished, only the [DONE] line is missing
                    return reason
                raise UpstreamError("upstream_disconnected", "The model provider ended the "
                                    "stream before the answer finished.") from None
            except asyncio.TimeoutError:
                raise UpstreamError("timeout", f"The model sent nothing for {idle:g} s, so the "
                                    "answer was cut off.") from None
            if live.stopping:
                raise asyncio.CancelledError()
            if delta.text:
                live.answer.append(delta.text)
                live.changed.notify()
            reason = delta.finish_reason or reason
            if delta.done:
                return reason or "stop"
    finally:
        await source.aclose()


async def _next(source: AsyncIterator[Delta], timeout: float | None) -> Delta:
    """The next delta, or TimeoutError after ``timeout`` seconds. (asyncio.wait rather than
    wait_for, which before Python 3.12 can swallow a cancel that comes as the step ends.)"""
    step = asyncio.ensure_future(anext(source))
    try:
        done, _ = await asyncio.wait((step,), timeout=timeout)
    finally:
        if not step.done():  # timed out, or this task was cancelled: drop the step
            step.cancel()
            with contextlib.suppress(BaseException):
                await step
    if not done:
        raise asyncio.TimeoutError()
    return step.result()


async def chat_deltas(session: aiohttp.ClientSession, answer: Answer, config: Config,
                      extra_headers: dict[str, str]) -> AsyncIterator[Delta]:
    """The Chat Completions stream as deltas (one per data event, text or not)."""
    resp = await open_stream(session, config.upstream_base_url, config.api_key, answer.model,
                             answer.messages, extra_headers)
    clean = False
    try:
        parser = SSEParser()
        while chunk := await resp.content.readany():
            if config.flags.naive_utf8:
                chunk = naive_decode(chunk)
            for event in parser.feed(chunk):
                delta = interpret(event)
                clean = delta.done
                yield delta
                if clean:
                    return
    except aiohttp.ClientError:
        raise UpstreamError("upstream_disconnected", "The connection to the model provider "
                            "broke before the answer finished.") from None
    finally:  # released for reuse only after a clean end
        resp.release() if clean else resp.close()

