"""``/_sselab/``: the request timeline, the scenario list, and reset, as JSON."""

from __future__ import annotations

from typing import Any

from aiohttp import web


def add_routes(app: web.Application, key: web.AppKey[Any]) -> None:
    def state(request: web.Request) -> Any:
        return request.app[key]

    async def requests(request: web.Request) -> web.Response:
        writes = request.query.get("writes", "1") not in ("0", "false", "no")
        return web.json_response(
            {"requests": [r.to_json(writes) for r in state(request).recorder]})

    async def one(request: web.Request) -> web.Response:
        rec = state(request).recorder.get(request.match_info["id"])
        if rec is None:
            return web.json_response({"error": f"no request {request.match_info['id']!r} "
                                               "(it may have been reset or aged out)"},
                                     status=404)
        return web.json_response(rec.to_json())

    async def reset(request: web.Request) -> web.Response:
        state(request).recorder.reset()
        return web.json_response({"reset": True})

    async def scenarios(request: web.Request) -> web.Response:
        st = state(request)
        return web.json_response({
            "default": st.default_scenario,
            "scenarios": [{"name": s.name, "description": s.description, "source": s.source}
                          for s in sorted(st.scenarios.values(), key=lambda s: s.name)],
        })

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/_sselab/requests", requests)
    app.router.add_get("/_sselab/requests/{id}", one)
    app.router.add_post("/_sselab/reset", reset)
    app.router.add_get("/_sselab/scenarios", scenarios)
    app.router.add_get("/_sselab/health", health)


async def no_route(request: web.Request) -> web.Response:
    routes = sorted({f"{r.method} {r.resource.canonical}" for r in request.app.router.routes()
                     if r.resource is not None and "{tail" not in r.resource.canonical})
    return web.json_response(
        {"error": {"message": f"sselab: no route for {request.method} {request.path}",
                   "type": "not_found", "routes": routes}}, status=404)
