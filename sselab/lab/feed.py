"""``GET /_sselab/events``: the recorder's events as a server-sent event stream.

The simulator uses its own medicine: the lab page reads this with ``EventSource``. Events:

- ``snapshot``: ``{"requests": [summary, ...]}`` (the newest :data:`SNAPSHOT` records), first;
- ``update``: ``{"requests": [summary, ...]}``: requests that started, finished or moved on
  (bytes written, first byte, a write blocked) since the last update, at most every
  :data:`TICK` seconds;
- ``reset``: ``{}`` when the timeline was reset.

A ``: keep-alive`` comment goes out after :data:`KEEPALIVE` quiet seconds. A connection ends
after :data:`MAX_LIFETIME` seconds (``EventSource`` reconnects and gets a fresh snapshot).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from ..server.recorder import Recorder, RequestRecord
from .record_view import summary

SNAPSHOT = 500
TICK = 0.2
KEEPALIVE = 15.0
MAX_LIFETIME = 3600.0
MAX_PENDING = 10_000


def _frame(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _progress(rec: RequestRecord) -> tuple[Any, ...]:
    return (rec.outcome, rec.bytes_written, rec.first_byte, rec.blocked_since, rec.status,
            rec.scenario)


async def events(request: web.Request, recorder: Recorder) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache, no-transform",
                                       "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    changed: dict[str, RequestRecord] = {}
    live: dict[str, RequestRecord] = {}
    seen: dict[str, tuple[Any, ...]] = {}
    wake = asyncio.Event()
    state = {"reset": False}

    def on(event: str, rec: RequestRecord | None) -> None:
        if event == "reset":
            changed.clear()
            live.clear()
            state["reset"] = True
        elif rec is not None and len(changed) < MAX_PENDING:
            changed[rec.id] = rec
            if event == "new":
                live[rec.id] = rec
        wake.set()

    unsubscribe = recorder.subscribe(on)
    try:
        records = recorder.requests[-SNAPSHOT:]
        live.update((r.id, r) for r in records if not r.done)
        seen.update((r.id, _progress(r)) for r in records)
        await resp.write(_frame("snapshot", {"requests": [summary(r) for r in records]}))
        started = last_sent = time.monotonic()
        while time.monotonic() - started < MAX_LIFETIME:
            if not (live or changed or state["reset"]):
                try:
                    await asyncio.wait_for(wake.wait(), KEEPALIVE)
                except asyncio.TimeoutError:
                    pass
            wake.clear()
            out = b""
            if state["reset"]:
                state["reset"] = False
                seen.clear()
                out += _frame("reset", {})
            for rec in list(live.values()):
                if _progress(rec) != seen.get(rec.id):
                    changed[rec.id] = rec
                if rec.done:
                    del live[rec.id]
            batch = [r for r in changed.values() if _progress(r) != seen.get(r.id)]
            changed.clear()
            if batch:
                for r in batch:
                    seen[r.id] = _progress(r)
                out += _frame("update", {"requests": [summary(r) for r in batch]})
            if len(seen) > 4 * SNAPSHOT:  # only the newest records can still change
                for key in list(seen)[:-SNAPSHOT]:
                    if key not in live:
                        del seen[key]
            now = time.monotonic()
            if not out and now - last_sent >= KEEPALIVE:
                out = b": keep-alive\n\n"
            if out:
                await resp.write(out)
                last_sent = now
            await asyncio.sleep(TICK)  # at most one update per tick
    except ConnectionError:  # the page went away
        pass
    finally:
        unsubscribe()
    return resp
