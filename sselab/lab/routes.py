"""The lab's routes on every simulator: the page, its static files, the live feed, and one
request's timeline picture and byte log.

==========================================  ==================================================
``GET /_sselab/ui``                         the lab page (self-contained: no external assets)
``GET /_sselab/lab/{file}``                 its modules and style
``GET /_sselab/events``                     the recorder's events, as SSE (:mod:`.feed`)
``GET /_sselab/requests/{id}/timeline.svg`` the request's timeline picture
``GET /_sselab/requests/{id}/bytes``        its byte log: the writes with their bytes
                                            (``?raw=1``: also each write's exact bytes)
==========================================  ==================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from ..encoders import formats
from ..timeline import svg
from . import feed
from .record_view import describe_faults, request_timeline, summary
from .replay import Replay, replay
from .seen import Seen

STATIC = Path(__file__).parent / "static"
SEEN_KEY: web.AppKey[Seen] = web.AppKey("sselab_lab_seen", Seen)
# the page may load only what this server serves (and draw the SVG it fetched)
PAGE_HEADERS = {"Cache-Control": "no-cache",
                "Content-Security-Policy": "default-src 'self'; style-src 'self' "
                                           "'unsafe-inline'; img-src 'self' data:"}


def page(name: str) -> Any:
    async def handle(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / name, headers=PAGE_HEADERS)

    return handle


def replay_for(app: web.Application, state: Any, rec: Any) -> Replay:
    """The byte log of ``rec`` on the simulator ``app`` (whose state is ``state``)."""
    seen = app.get(SEEN_KEY)
    name = rec.scenario if rec.scenario in state.scenarios else None
    return replay(rec, seen.get(rec.id) if seen is not None else None,
                  formats().get(rec.format or ""), state.scenarios[name] if name else None,
                  state.script(name) if name else None)


def add(app: web.Application, key: web.AppKey[Any]) -> None:
    seen = app[SEEN_KEY] = Seen()
    unsubscribe = app[key].recorder.subscribe(seen.on_event)

    async def cleanup(app: web.Application) -> None:
        unsubscribe()

    app.on_cleanup.append(cleanup)

    def lookup(request: web.Request) -> tuple[Any, Any]:
        state = request.app[key]
        rec = state.recorder.get(request.match_info["id"])
        if rec is None:
            raise web.HTTPNotFound(
                text=f'{{"error": "no request {request.match_info["id"]!r} (it may have been '
                     'reset or aged out)"}', content_type="application/json")
        return state, rec

    async def events(request: web.Request) -> web.StreamResponse:
        return await feed.events(request, request.app[key].recorder)

    async def timeline(request: web.Request) -> web.Response:
        state, rec = lookup(request)
        width = request.query.get("width", "")
        picture = request_timeline(rec, replay_for(request.app, state, rec))
        return web.Response(text=svg.render(picture, int(width) if width.isdigit() and
                                            400 <= int(width) <= 4000 else svg.WIDTH),
                            content_type="image/svg+xml", headers={"Cache-Control": "no-cache"})

    async def byte_log(request: web.Request) -> web.Response:
        state, rec = lookup(request)
        raw = request.query.get("raw") in ("1", "true")
        out = replay_for(request.app, state, rec).to_json(raw=raw)
        scenario = state.scenarios.get(rec.scenario or "")
        out.update(request=summary(rec), faults=describe_faults(scenario),
                   description=scenario.description if scenario else None)
        return web.json_response(out)

    app.router.add_get("/_sselab/ui", page("ui.html"))
    app.router.add_static("/_sselab/lab/", STATIC, append_version=False)
    app.router.add_get("/_sselab/events", events)
    app.router.add_get("/_sselab/requests/{id}/timeline.svg", timeline)
    app.router.add_get("/_sselab/requests/{id}/bytes", byte_log)
