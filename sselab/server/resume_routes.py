"""Resumable streams over HTTP: plain SSE ``Last-Event-ID``, the UI stream's ``GET
/ui/chat/{chatId}/stream`` and (``resume_responses``) Responses background mode.

``create_app`` registers these routes before the formats' own, so they see a request first and
hand anything that is not theirs to the format's handler unchanged:

- ``GET /sse`` (and ``POST /sse`` with the scenario's ``resume.event_ids``): a live stream whose
  events carry ``id: STREAM:N``. A request with ``Last-Event-ID: STREAM:N`` (EventSource sends
  it on its own reconnect; a fetch client may send it on a POST) resumes that stream after
  event N: what was generated meanwhile at once, then the rest as it comes. An id that is not
  ``STREAM:N`` gets 400, an unknown stream 404, an expired one 410; a finished stream with
  nothing left gets 204, which tells EventSource to stop reconnecting.
- ``POST /ui/chat`` with a chat ``id`` in the body (``useChat`` sends it): a live stream kept as
  that chat's active stream. ``GET /ui/chat/{chatId}/stream`` (``DefaultChatTransport``'s
  ``reconnectToStream``) replays it from the start and follows it live (the transport's
  ``resumeStreamIsReplay``), or answers 204 when the chat has no active stream.
- ``GET /_sselab/live``: the live streams, their state and who resumed them.

Every resume is recorded with ``resumes`` (the first request's id) and ``replayed_events``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web

from ..encoders import WireFormat, formats
from ..encoders.base import Item, RequestInfo
from ..encoders.plain_sse import event_ids, stream_id
from ..script.events import Script
from . import resume_responses
from .live import LiveRegistry, frame_ordinal
from .live_http import (
    LIVE_KEY,
    Ctx,
    Handler,
    link,
    live_stream,
    new_record,
    no_content,
    nothing_left,
    send_error,
    send_resumed,
    via_handler,
)


def add_routes(app: web.Application, state_key: web.AppKey[Any],
               make_handler: Callable[[WireFormat], Handler]) -> None:
    """Register the resume routes (before the formats' own routes)."""
    app[LIVE_KEY] = LiveRegistry()
    ctx = Ctx(state_key, make_handler)
    sse, ui = formats()["plain_sse"], formats()["vercel_ui_stream"]

    async def plain(request: web.Request) -> web.StreamResponse:
        last = request.headers.get("Last-Event-ID", "")
        if last:
            return await _resume_sse(ctx, request, sse, last)

        def stream(script: Script, req: RequestInfo) -> Iterator[Item]:
            if not event_ids(script, req):
                return sse.stream(script, req)
            live = live_stream(ctx, request, sse, script, req,
                               lambda s, r, first: stream_id(s, r),
                               frame_ordinal(itertools.count()))
            return live.follow(0, live.t0)

        return await via_handler(ctx, request, sse, stream=stream)

    async def chat(request: web.Request) -> web.StreamResponse:
        def stream(script: Script, req: RequestInfo) -> Iterator[Item]:
            chat_id = req.body.get("id")
            if not isinstance(chat_id, str) or not chat_id:
                return ui.stream(script, req)
            live = live_stream(ctx, request, ui, script, req, lambda s, r, first: "chat:" + chat_id,
                               frame_ordinal(itertools.count()))
            return live.follow(0, live.t0)

        return await via_handler(ctx, request, ui, stream=stream)

    async def chat_stream(request: web.Request) -> web.StreamResponse:
        return await _resume_chat(ctx, request, ui)

    async def live(request: web.Request) -> web.Response:
        now = time.monotonic()
        return web.json_response({"live": [s.to_json(now) for s in ctx.registry(request).all()]})

    app.router.add_get("/sse", plain)
    app.router.add_post("/sse", plain)
    app.router.add_post("/ui/chat", chat)
    app.router.add_get("/ui/chat/{chat_id}/stream", chat_stream)
    app.router.add_get("/_sselab/live", live)
    resume_responses.add_routes(app, ctx)


async def _resume_sse(ctx: Ctx, request: web.Request, fmt: WireFormat,
                      last: str) -> web.StreamResponse:
    record = new_record(ctx, request, fmt)
    sid, _, n = last.rpartition(":")
    if not sid or not n.isdigit():
        return await send_error(request, record, fmt, 400, f"sselab: Last-Event-ID {last!r} is "
                                "not an event id this simulator sent (STREAM:N)")
    registry = ctx.registry(request)
    live = registry.get(sid)
    if live is None or live.format != fmt.name:
        return await send_error(request, record, fmt, 404, f"sselab: no stream {sid!r} to "
                                f"resume: unknown, or older than kept ({registry.keep:g} s)")
    link(record, live)
    now = time.monotonic()
    if live.expired(now):
        return await send_error(request, record, fmt, 410, f"sselab: stream {sid!r} has "
                                "expired (expire fault) and can no longer be resumed")
    fault = live.resume_fails()
    if fault is not None:
        return await send_error(request, record, fmt, fault.status, fault.message)
    start = live.position_after(int(n))
    if start is None:
        return await send_error(request, record, fmt, 400, f"sselab: stream {sid!r} has no "
                                f"event {n}")
    if nothing_left(live, start, now):
        return no_content(record)
    return await send_resumed(ctx, request, record, live, fmt, start)


async def _resume_chat(ctx: Ctx, request: web.Request, fmt: WireFormat) -> web.StreamResponse:
    record = new_record(ctx, request, fmt)
    live = ctx.registry(request).get("chat:" + request.match_info["chat_id"])
    if live is None:
        return no_content(record)
    link(record, live)
    now = time.monotonic()
    if live.finished(now) or live.expired(now):
        return no_content(record)
    fault = live.resume_fails()
    if fault is not None:
        return await send_error(request, record, fmt, fault.status, fault.message)
    return await send_resumed(ctx, request, record, live, fmt, 0)
