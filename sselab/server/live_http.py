"""What the resume routes share: starting a live stream, recording and answering a resume.

:func:`via_handler` serves a new stream through the server's own request handler (so a live
stream is recorded, shaped and written exactly like any other) with the format's ``stream``
replaced: where the request asks for a resumable stream, :func:`live_stream` puts the encoder's
output in a :class:`~sselab.server.live.LiveStream` and the first connection reads it back
through :meth:`~sselab.server.live.LiveStream.follow`.
:func:`send_resumed` writes a live stream to a resuming connection from a position, through the
scenario's shaping faults, on the original request's clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import Any

from aiohttp import web

from ..encoders.base import Frame, RequestInfo, WireFormat, kind_for_status
from ..script.events import ErrorEvent, HttpError, Script
from ..shaping import shape
from .live import LiveRegistry, LiveStream
from .recorder import RequestRecord
from .stream_writer import STOP_KEY, send_body, send_stream

REQUEST_ID_HEADER = "X-Sselab-Request-Id"  # as app.py sends it
LIVE_KEY: web.AppKey[LiveRegistry] = web.AppKey("sselab_live", LiveRegistry)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
KeyOf = Callable[[Script, RequestInfo, bytes], str]  # (script, request, first frame) -> key


@dataclass
class Ctx:
    """The simulator's state key and its request handler, as ``create_app`` has them."""

    state_key: web.AppKey[Any]
    make_handler: Callable[[WireFormat], Handler]
    _normal: dict[str, Handler] = field(default_factory=dict)

    def state(self, request: web.Request) -> Any:
        return request.app[self.state_key]

    def registry(self, request: web.Request) -> LiveRegistry:
        return request.app[LIVE_KEY]

    async def normal(self, request: web.Request, fmt: WireFormat) -> web.StreamResponse:
        """The format's own handler: a stream that is not live, or an error to answer."""
        if fmt.name not in self._normal:
            self._normal[fmt.name] = self.make_handler(fmt)
        return await self._normal[fmt.name](request)


def ends_in_error(script: Script) -> bool:
    return any(isinstance(t.event, ErrorEvent) for t in script.events)


def new_live(ctx: Ctx, request: web.Request, fmt: WireFormat, script: Script,
             req: RequestInfo, record: RequestRecord, key_of: KeyOf,
             event_key: Callable[[bytes], int | None]) -> LiveStream:
    """Register a live stream of ``script`` for ``req`` (its encoder output taken lazily)."""
    state = ctx.state(request)
    source = fmt.stream(script, req)
    first = next(source, None)
    data = first.data if isinstance(first, Frame) else b""
    live = LiveStream(key_of(script, req, data), fmt.name, record,
                      chain([first], source) if first is not None else iter(()), event_key,
                      faults=tuple(state.scenarios[script.scenario].faults),
                      ends_in_error=ends_in_error(script),
                      stop=asyncio.get_running_loop().create_future())
    ctx.registry(request).add(live)
    return live


def live_stream(ctx: Ctx, request: web.Request, fmt: WireFormat, script: Script,
                req: RequestInfo, key_of: KeyOf,
                event_key: Callable[[bytes], int | None]) -> LiveStream:
    """Register the stream the format's handler is about to send as a live one: called from
    the format's ``stream`` in a variant given to :func:`via_handler`. A cancel ends it."""
    record = ctx.state(request).recorder.get(req.request_id)
    live = new_live(ctx, request, fmt, script, req, record, key_of, event_key)
    request[STOP_KEY] = live.stop
    return live


async def via_handler(ctx: Ctx, request: web.Request, fmt: WireFormat,
                      **changes: Any) -> web.StreamResponse:
    """Answer with the server's own handler for a variant of ``fmt`` (its ``stream`` replaced
    by one that decides, with the request body at hand, whether the stream is live): the
    request is read, recorded, errors answered, shaped and written as for any other."""
    return await ctx.make_handler(replace(fmt, **changes))(request)


def request_info(request: web.Request, record: RequestRecord, fmt: WireFormat,
                 body: dict[str, Any] | None = None) -> RequestInfo:
    return RequestInfo(
        request_id=record.id, format=fmt.name, method=request.method, path=request.path,
        body=body or {}, query=dict(request.query), headers=dict(request.headers),
        path_params=dict(request.match_info), created=int(time.time()), model=record.model,
        stream=bool(record.stream))


def new_record(ctx: Ctx, request: web.Request, fmt: WireFormat,
               live: LiveStream | None = None) -> RequestRecord:
    """Record a resume (or retrieve, cancel) request, linked to the stream's first request."""
    record = ctx.state(request).recorder.new(request.method, request.path)
    record.format = fmt.name
    if live is not None:
        link(record, live)
    return record


def link(record: RequestRecord, live: LiveStream) -> None:
    record.resumes = live.record.id
    record.scenario, record.model = live.record.scenario, live.record.model
    live.resumed_by.append(record.id)


async def send_error(request: web.Request, record: RequestRecord, fmt: WireFormat, status: int,
                     message: str, *, body: dict[str, Any] | None = None) -> web.StreamResponse:
    """An HTTP error in the format's own shape (or ``body``)."""
    req = request_info(request, record, fmt)
    shaped, headers = fmt.error(HttpError(status, message, kind_for_status(status)), req)
    record.error = message
    return await send_body(request, record, status, body if body is not None else shaped,
                           headers={**headers, REQUEST_ID_HEADER: record.id},
                           outcome="http_error")


def no_content(record: RequestRecord) -> web.Response:
    """204: nothing to resume (EventSource then stops reconnecting; useChat gets null)."""
    record.status = 204
    record.finish("completed")
    return web.Response(status=204, headers={REQUEST_ID_HEADER: record.id})


async def send_resumed(ctx: Ctx, request: web.Request, record: RequestRecord, live: LiveStream,
                       fmt: WireFormat, start: int) -> web.StreamResponse:
    """Stream ``live`` from item ``start``: what was generated at once, then the rest live."""
    state = ctx.state(request)
    record.stream = True
    record.replayed_events = live.generated(record.received, start)
    request[STOP_KEY] = live.stop
    items: Any = live.follow(start, record.received, live.t0 - record.received)
    items = shape(items, live.faults)  # the transport faults act on every connection
    req = request_info(request, record, fmt)
    headers = {"Content-Type": fmt.content_type, "Cache-Control": "no-cache",
               **fmt.headers(req), REQUEST_ID_HEADER: record.id}
    return await send_stream(request, record, items, headers=headers, keepalive=fmt.keepalive,
                             max_stall=state.max_stall, pacer=state.pacer,
                             outcome="error_event" if live.ends_in_error else "completed")


def nothing_left(live: LiveStream, start: int, now: float) -> bool:
    """The stream is over and holds no event after ``start``."""
    if not live.finished(now):
        return False
    return not any(isinstance(it, Frame) for it in live.items[start:])
