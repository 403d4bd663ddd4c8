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

    async def set_default(request: web.Request) -> web.Response:
        st = state(request)
        try:
            name = (await request.json())["scenario"]
        except (ValueError, KeyError, TypeError, RecursionError):
            return web.json_response({"error": 'send {"scenario": NAME}'}, status=400)
        if name not in st.scenarios:
            return web.json_response({"error": f"unknown scenario {name!r}", "available":
                                      sorted(st.scenarios)}, status=404)
        st.default_scenario = name
        return web.json_response({"default": name})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(summary(list(state(request).recorder)))

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/_sselab/requests", requests)
    app.router.add_get("/_sselab/requests/{id}", one)
    app.router.add_post("/_sselab/reset", reset)
    app.router.add_get("/_sselab/scenarios", scenarios)
    app.router.add_put("/_sselab/default-scenario", set_default)
    app.router.add_get("/_sselab/stats", stats)
    app.router.add_get("/_sselab/health", health)


async def no_route(request: web.Request) -> web.Response:
    routes = sorted({f"{r.method} {r.resource.canonical}" for r in request.app.router.routes()
                     if r.resource is not None and "{tail" not in r.resource.canonical})
    return web.json_response(
        {"error": {"message": f"sselab: no route for {request.method} {request.path}",
                   "type": "not_found", "routes": routes}}, status=404)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


def summary(records: list[Any]) -> dict[str, Any]:
    """How well the simulator itself kept to its schedule, over the recorded requests."""
    late = sorted(w[3] for r in records for w in r.writes[1:])  # first write: TTFB, not pacing
    outcomes: dict[str, int] = {}
    for r in records:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1

    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 3)

    return {
        "requests": len(records), "outcomes": outcomes, "writes": len(late),
        "late_ms": {"p50": ms(_pct(late, 0.5)), "p90": ms(_pct(late, 0.9)),
                    "p99": ms(_pct(late, 0.99)), "max": ms(late[-1] if late else None)},
        "drain_wait_ms": round(sum(r.drain_wait for r in records) * 1000, 3),
    }
