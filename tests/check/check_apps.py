"""Small relay apps for testing the check battery: one correct relay and broken variants.

``create_relay_app(upstream, flags=...)`` relays an OpenAI-compatible upstream's chat stream to
the browser as SSE (``event: token`` / ``event: error`` / ``event: done``), like a typical
team's backend. Each flag breaks one thing:

no_abort             the upstream call runs to completion in a task nobody cancels
buffered             the whole answer is collected, then sent at once
swallow_errors       an upstream error ends the stream with ``done`` as if complete
no_idle_timeout      an upstream that stalls is waited on forever
naive_utf8           each network read is decoded on its own (breaks split characters)
unbounded_readahead  a reader task drains the upstream into an unbounded queue
no_headers           no Cache-Control / X-Accel-Buffering headers
plain_text           streams the bare answer text as text/plain (no events, no error signal)
gzip                 compresses the response (aiohttp's compression)
crosstalk            every response subscribes to one global channel (a fixed name, by
                     mistake), so concurrent streams receive each other's tokens
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from sselab.sse_parse import SSEDecoder, SSEEvent

FLAGS = ("no_abort", "buffered", "swallow_errors", "no_idle_timeout", "naive_utf8",
         "unbounded_readahead", "no_headers", "crosstalk", "plain_text", "gzip")
_CHANNEL: list[asyncio.Queue] = []  # the crosstalk bug: one channel for every response


def _sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class _NaiveDecoder:
    """Decodes every read on its own: a multi-byte character split across reads is mangled."""

    def __init__(self) -> None:
        self.buf = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self.buf += chunk.decode("utf-8", errors="replace")
        out = []
        while "\n\n" in self.buf:
            block, self.buf = self.buf.split("\n\n", 1)
            data = "\n".join(line[6:] for line in block.split("\n") if line.startswith("data: "))
            if data:
                out.append(SSEEvent(data))
        return out


async def _upstream_events(session: aiohttp.ClientSession, url: str, body: dict, flags: set,
                           idle: float) -> AsyncIterator[tuple[str, str]]:
    """("token", text) / ("error", message) / ("done", "") from the upstream chat stream."""
    payload = {"model": body.get("model", "gpt-4o-mini"), "messages": body.get("messages", []),
               "stream": True}
    async with session.post(url + "/chat/completions", json=payload) as resp:
        if resp.status != 200:
            yield "error", f"upstream HTTP {resp.status}"
            return
        decoder = _NaiveDecoder() if "naive_utf8" in flags else SSEDecoder()
        it = resp.content.iter_any().__aiter__()
        while True:
            try:
                if "no_idle_timeout" in flags:
                    chunk = await it.__anext__()
                else:
                    chunk = await asyncio.wait_for(it.__anext__(), idle)
            except StopAsyncIteration:
                yield "error", "upstream closed early"
                return
            except asyncio.TimeoutError:
                yield "error", f"no data from the model for {idle:g} s"
                return
            for ev in decoder.feed(chunk):
                if ev.data == "[DONE]":
                    yield "done", ""
                    return
                obj = json.loads(ev.data)
                if "error" in obj:
                    yield "error", obj["error"].get("message", "error")
                    return
                delta = obj["choices"][0]["delta"].get("content") if obj["choices"] else None
                if delta:
                    yield "token", delta


def create_relay_app(upstream: str, *, flags: tuple[str, ...] = (),
                     idle_timeout: float = 1.0) -> web.Application:
    flags_set = set(flags)
    unknown = flags_set - set(FLAGS)
    if unknown:
        raise ValueError(f"unknown flags {unknown}")
    tasks: set[asyncio.Task] = set()

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        plain = "plain_text" in flags_set
        headers = {"Content-Type": "text/plain; charset=utf-8" if plain else "text/event-stream"}
        if "no_headers" not in flags_set:
            headers.update({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        resp = web.StreamResponse(headers=headers)
        if "gzip" in flags_set:
            resp.enable_compression()
        await resp.prepare(request)
        session: aiohttp.ClientSession = request.app["session"]
        events = _upstream_events(session, upstream, body, flags_set, idle_timeout)
        # bounded (backpressure reaches the upstream) unless the flag says otherwise
        queue: asyncio.Queue = asyncio.Queue(0 if "unbounded_readahead" in flags_set else 4)
        subscribers = _CHANNEL if "crosstalk" in flags_set else [queue]
        if "crosstalk" in flags_set:
            _CHANNEL.append(queue)

        async def pump() -> None:
            try:
                async with contextlib.aclosing(events):
                    async for item in events:
                        for q in list(subscribers):
                            await q.put((id(queue), item))
            except Exception as exc:  # noqa: BLE001 - the fixture reports, never crashes
                await queue.put((id(queue), ("error", str(exc))))
            await queue.put((id(queue), None))

        task = asyncio.get_running_loop().create_task(pump())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        collected: list[bytes] = []
        try:
            while True:
                owner, item = await queue.get()
                if item is None:
                    if owner == id(queue):
                        break
                    continue
                kind, value = item
                if plain and kind == "error" and "swallow_errors" not in flags_set:
                    if request.transport is not None:  # no way to say it in-band: cut it short
                        request.transport.close()
                    break
                if plain:
                    frame = value.encode() if kind == "token" else b""
                elif kind == "token":
                    frame = _sse("token", {"text": value})
                elif kind == "error" and "swallow_errors" not in flags_set:
                    frame = _sse("error", {"message": value, "kind": "upstream"})
                else:
                    frame = _sse("done", {})
                if "buffered" in flags_set:
                    collected.append(frame)
                else:
                    try:
                        await resp.write(frame)
                    except ConnectionError:
                        if "no_abort" in flags_set:
                            continue  # keeps going (and keeps the upstream busy)
                        raise
                if kind != "token" and owner == id(queue):
                    break
            if collected:
                await resp.write(b"".join(collected))
            with contextlib.suppress(ConnectionError):
                await resp.write_eof()
        finally:
            if queue in _CHANNEL:
                _CHANNEL.remove(queue)
            task.cancel()
        return resp

    async def on_startup(app: web.Application) -> None:
        app["session"] = aiohttp.ClientSession()

    async def on_cleanup(app: web.Application) -> None:
        for t in list(tasks):
            t.cancel()
        await app["session"].close()

    app = web.Application()
    app.router.add_post("/api/chat", chat)
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html><body>hi</body></html>", content_type="text/html")

    async def whole(request: web.Request) -> web.Response:
        return web.json_response({"text": "all at once"})

    app.router.add_route("*", "/page", page)
    app.router.add_post("/json", whole)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


@dataclass
class RunningApp:
    url: str
    runner: web.AppRunner


@contextlib.asynccontextmanager
async def running_app(upstream: str, *, flags: tuple[str, ...] = (),
                      idle_timeout: float = 1.0) -> AsyncIterator[RunningApp]:
    """The relay on a free port of 127.0.0.1 (``handler_cancellation`` unless ``no_abort``)."""
    app = create_relay_app(upstream, flags=flags, idle_timeout=idle_timeout)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5,
                           handler_cancellation="no_abort" not in flags)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield RunningApp(f"http://127.0.0.1:{port}", runner)
    finally:
        await runner.cleanup()
