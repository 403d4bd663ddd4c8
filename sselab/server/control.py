"""``/_sselab/``: the request timeline, the scenario list, and reset, as JSON.

The timeline can hold hundreds of MB: it is paginated, summary-only unless ``?writes=1``, and
serialised in slices that give the event loop back every few milliseconds, so that reading it
never stalls the streams being served.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import repeat
from operator import mul
from typing import Any

from aiohttp import web

from .recorder import Recorder, RequestRecord
from .sizes import format_size

LIST_LIMIT, LIST_MAX = 100, 1_000  # records a page: default, most
PAGE_WRITES = 100_000  # a page with writes ends once it holds this many
WRITES_CHUNK = 250  # writes serialised between two looks at the clock
SLICE = 0.001  # seconds of serialising before giving the loop back
SEND_AT = 256 * 1024  # characters buffered before a write to the socket


class BadQuery(ValueError):
    pass


def add_routes(app: web.Application, key: web.AppKey[Any]) -> None:
    def state(request: web.Request) -> Any:
        return request.app[key]

    async def requests(request: web.Request) -> web.StreamResponse:
        recorder: Recorder = state(request).recorder
        try:
            since = _since(request.query.get("since"))
            limit = _int(request.query.get("limit"), "limit", LIST_LIMIT, 1, LIST_MAX)
            writes = _flag(request.query.get("writes"), "writes", False)
        except BadQuery as exc:
            return web.json_response({"error": str(exc)}, status=400)
        page, nxt = recorder.page(since, limit, PAGE_WRITES if writes else None)
        return await send_pieces(request, _listing(page, writes, nxt, recorder))

    async def one(request: web.Request) -> web.StreamResponse:
        rec = state(request).recorder.get(request.match_info["id"])
        if rec is None:
            return web.json_response({"error": f"no request {request.match_info['id']!r} "
                                               "(it may have been reset or aged out)"},
                                     status=404)
        try:
            writes = _flag(request.query.get("writes"), "writes", True)
        except BadQuery as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return await send_pieces(request, record_pieces(rec, writes))

    async def reset(request: web.Request) -> web.Response:
        recorder = state(request).recorder
        recorder.reset()
        return web.json_response({"reset": True, "kept_in_flight": recorder.in_flight})

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

    async def add_scenario(request: web.Request) -> web.Response:
        from ..errors import SselabError
        from ..scenario import load_text

        try:
            text = (await request.json())["yaml"]
            if not isinstance(text, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": 'send {"yaml": SCENARIO_YAML_TEXT}'}, status=400)
        try:
            scenario = load_text(text, "<POST /_sselab/scenarios>")
        except SselabError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        state(request).add(scenario)
        return web.json_response({"added": scenario.name})

    async def stats(request: web.Request) -> web.Response:
        recorder: Recorder = state(request).recorder
        try:
            histogram = _flag(request.query.get("late_us"), "late_us", False)
        except BadQuery as exc:
            return web.json_response({"error": str(exc)}, status=400)
        out = await summary(recorder.requests, histogram=histogram)
        out["timeline"] = timeline_json(recorder)
        return web.json_response(out)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def started(app: web.Application) -> None:
        app[key].recorder.stopping = False

    async def stopping(app: web.Application) -> None:  # before aiohttp cancels the handlers
        app[key].recorder.stopping = True

    app.on_startup.append(started)
    app.on_shutdown.append(stopping)
    app.router.add_get("/_sselab/requests", requests)
    app.router.add_get("/_sselab/requests/{id}", one)
    app.router.add_post("/_sselab/reset", reset)
    app.router.add_get("/_sselab/scenarios", scenarios)
    app.router.add_post("/_sselab/scenarios", add_scenario)
    app.router.add_put("/_sselab/default-scenario", set_default)
    app.router.add_get("/_sselab/stats", stats)
    app.router.add_get("/_sselab/health", health)


async def no_route(request: web.Request) -> web.Response:
    routes = sorted({f"{r.method} {r.resource.canonical}" for r in request.app.router.routes()
                     if r.resource is not None and "{tail" not in r.resource.canonical})
    return web.json_response(
        {"error": {"message": f"sselab: no route for {request.method} {request.path}",
                   "type": "not_found", "routes": routes}}, status=404)


# -- query parameters ---------------------------------------------------------------------------
def _since(value: str | None) -> int:
    if not value:
        return 0
    digits = value.removeprefix("req_")
    if not digits.isdigit():
        raise BadQuery(f"since={value!r}: give a request id (req_000123) or the 'next' cursor "
                       "of the previous page")
    return int(digits)


def _int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadQuery(f"{name}={value!r}: give a whole number from {low} to {high}")
    return int(value)


def _flag(value: str | None, name: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise BadQuery(f"{name}={value!r}: give 1 or 0")


# -- serialising in slices ----------------------------------------------------------------------
def timeline_json(recorder: Recorder) -> dict[str, Any]:
    return {"requests": len(recorder), "in_flight": recorder.in_flight,
            "bytes": recorder.used, "budget": recorder.budget,
            "budget_text": format_size(recorder.budget), "dropped": recorder.dropped}


def record_pieces(rec: RequestRecord, writes: bool) -> Iterator[str]:
    """One record as JSON text, in pieces small enough to interleave with streams."""
    head = rec.summary_json()
    if not writes:
        yield json.dumps(head)
        return
    n = len(rec.writes)  # a record in flight keeps growing: what it had when we started
    yield json.dumps(head)[:-1] + ', "writes": ['
    for start in range(0, n, WRITES_CHUNK):
        part = rec.writes_text(start, min(n, start + WRITES_CHUNK))
        yield (", " if start else "") + part
    yield "]}"


def _listing(page: list[RequestRecord], writes: bool, nxt: str | None,
             recorder: Recorder) -> Iterator[str]:
    yield '{"requests": ['
    for i, rec in enumerate(page):
        if i:
            yield ","
        yield from record_pieces(rec, writes)
    tail = {"next": nxt, "dropped": recorder.dropped, "timeline": timeline_json(recorder)}
    yield "], " + json.dumps(tail)[1:]


async def _give_back() -> None:
    """Let everything that is ready run before we go on. One ``sleep(0)`` is not enough: this
    task is first in the next loop turn's queue, and a paced stream's wake-up takes three turns
    (its timer fires, that resolves a future, the future wakes the pacer task): each extra
    ``sleep(0)`` is one turn (microseconds when nothing else is ready)."""
    for _ in range(4):
        await asyncio.sleep(0)


async def send_pieces(request: web.Request, pieces: Iterable[str]) -> web.StreamResponse:
    """Stream JSON text made of ``pieces``, giving the loop back every ``SLICE`` seconds."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    await resp.prepare(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SLICE
    buf: list[str] = []
    size = 0
    for piece in pieces:
        buf.append(piece)
        size += len(piece)
        late = loop.time() >= deadline
        if size >= SEND_AT or late:
            await resp.write("".join(buf).encode())
            buf.clear()
            size = 0
        if late:
            await _give_back()
            deadline = loop.time() + SLICE
    await resp.write("".join(buf).encode())
    await resp.write_eof()
    return resp


# -- /_sselab/stats -----------------------------------------------------------------------------
async def summary(records: list[RequestRecord], *, histogram: bool = False) -> dict[str, Any]:
    """How well the simulator itself kept to its schedule, over the recorded requests: counted
    per microsecond of lateness, in slices (a full timeline holds millions of writes). With
    ``histogram``, the counts themselves too (``late_us``: {µs: writes}), so that several
    workers' summaries merge exactly."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SLICE
    late_us: Counter[int] = Counter()
    outcomes: dict[str, int] = {}
    drain = 0.0
    for r in records:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        drain += r.drain_wait
        late = r._late  # noqa: SLF001
        for start in range(1, len(late), 20_000):  # first write: TTFB, not pacing
            late_us.update(map(round, map(mul, late[start:start + 20_000], repeat(1e6))))
        if loop.time() >= deadline:
            await _give_back()
            deadline = loop.time() + SLICE
    out = {"requests": len(records), "outcomes": outcomes, **late_figures(late_us),
           "drain_wait_ms": round(drain * 1000, 3)}
    if histogram:
        out["late_us"] = {str(k): v for k, v in sorted(late_us.items())}
    return out


def late_figures(late_us: Counter[int]) -> dict[str, Any]:
    """``writes`` and ``late_ms`` percentiles from lateness counted per microsecond."""
    keys = sorted(late_us)
    n = sum(late_us.values())

    def pct(q: float) -> float | None:
        if not n:
            return None
        idx, seen = min(n - 1, int(q * n)), 0
        for k in keys:
            seen += late_us[k]
            if seen > idx:
                return k / 1000
        return keys[-1] / 1000

    return {"writes": n, "late_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99),
                                     "max": keys[-1] / 1000 if keys else None}}
