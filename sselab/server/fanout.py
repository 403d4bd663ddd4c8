"""One control API over several worker processes (``sselab serve --workers N``).

Every worker serves the same application on the shared public port and on a private control
port of its own (127.0.0.1). A ``/_sselab/`` request that arrives on the public port is sent to
every worker's control port (this one's included) and the answers are merged, so that the
answer is the one a single process holding every worker's records would give: the listing is
ordered by request number (ids come from one counter shared by the workers), counts are summed,
the lateness percentiles are recomputed from the workers' histograms. A request arriving on a
control port is answered by that worker alone.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from .control import LIST_LIMIT, PAGE_WRITES, late_figures
from .sizes import format_size

FORWARDED = ("Authorization", "X-Sselab-Token")  # what a guard may ask for, passed on
TIMEOUT = 60.0  # seconds for a worker to answer one control request


@dataclass
class Peers:
    """This worker's control port and (once known) every worker's, in worker order."""

    own: int
    ports: Callable[[], list[int]]  # read lazily: the parent writes them once all are up
    session: aiohttp.ClientSession | None = field(default=None, repr=False)


PEERS_KEY: web.AppKey[Peers] = web.AppKey("sselab_peers")
Answer = tuple[int, Any]  # status, JSON


def install(app: web.Application, peers: Peers) -> None:
    """Answer the public port's ``/_sselab/`` requests for every worker."""
    app[PEERS_KEY] = peers

    async def closing(app: web.Application) -> None:
        if peers.session is not None:
            await peers.session.close()

    app.on_cleanup.append(closing)
    app.middlewares.append(_middleware)


@web.middleware
async def _middleware(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                      ) -> web.StreamResponse:
    peers = request.app[PEERS_KEY]
    if not request.path.startswith("/_sselab/") or request.method == "OPTIONS" \
            or _local_port(request) == peers.own:
        return await handler(request)
    try:
        answers = await _ask_all(request, peers)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
        return web.json_response({"error": f"sselab: a worker did not answer ({exc!r})"},
                                 status=502)
    status, body = merge(request.method, request.path, dict(request.query), answers)
    return web.json_response(body, status=status)


def _local_port(request: web.Request) -> int | None:
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    return sock[1] if sock else None


async def _ask_all(request: web.Request, peers: Peers) -> list[Answer]:
    if peers.session is None:
        peers.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
    body = await request.read() if request.can_read_body else None
    query = dict(request.query)
    if request.path == "/_sselab/stats":
        query["late_us"] = "1"  # the histograms, to merge the percentiles exactly
    extra = {k: request.headers[k] for k in FORWARDED if k in request.headers}

    async def ask(port: int) -> Answer:
        headers = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json", **extra}
        async with peers.session.request(  # type: ignore[union-attr]
                request.method, f"http://127.0.0.1:{port}{request.path}", params=query,
                data=body, headers=headers) as resp:
            return resp.status, json.loads(await resp.read())

    return list(await asyncio.gather(*(ask(p) for p in peers.ports())))


# -- merging ------------------------------------------------------------------------------------
def merge(method: str, path: str, query: dict[str, str], answers: list[Answer]) -> Answer:
    """The workers' answers to one control request as one answer."""
    bad = [a for a in answers if a[0] >= 400]
    if path == "/_sselab/requests" and method == "GET":
        return bad[0] if bad else (200, merge_pages(query, [b for _, b in answers]))
    if path.startswith("/_sselab/requests/") and method == "GET":
        return next((a for a in answers if a[0] == 200), answers[0])
    if bad:
        return bad[0]
    bodies = [b for _, b in answers]
    if path == "/_sselab/reset":
        return 200, {"reset": True, "kept_in_flight": sum(b["kept_in_flight"] for b in bodies)}
    if path == "/_sselab/stats":
        return 200, merge_stats(bodies, "late_us" in query)
    if path == "/_sselab/health":
        return 200, {**bodies[0], "workers": len(bodies)}
    return answers[0]  # scenarios, default scenario, uploads: every worker did the same


def _seq(rec: dict[str, Any]) -> int:
    return int(str(rec["id"]).removeprefix("req_"))


def merge_timeline(timelines: list[dict[str, Any]]) -> dict[str, Any]:
    out = {k: sum(t[k] for t in timelines) for k in ("requests", "in_flight", "bytes", "budget")}
    out["budget_text"] = format_size(out["budget"])
    out["dropped"] = merge_dropped([t["dropped"] for t in timelines])
    return out


def merge_dropped(dropped: list[dict[str, int]]) -> dict[str, int]:
    return {k: sum(d[k] for d in dropped) for k in ("records", "writes")}


def merge_pages(query: dict[str, str], pages: list[dict[str, Any]]) -> dict[str, Any]:
    """One page from each worker (all after the same cursor) as the page one process gives."""
    limit = int(query.get("limit") or LIST_LIMIT)  # the workers have checked it
    writes = (query.get("writes") or "").lower() in ("1", "true", "yes")
    every = sorted((r for p in pages for r in p["requests"]), key=_seq)
    page: list[dict[str, Any]] = []
    held = 0
    for rec in every[:limit]:
        page.append(rec)
        held += len(rec.get("writes", ()))
        if writes and held >= PAGE_WRITES:
            break
    more = len(page) < len(every) or any(p["next"] is not None for p in pages)
    return {"requests": page, "next": page[-1]["id"] if page and more else None,
            "dropped": merge_dropped([p["dropped"] for p in pages]),
            "timeline": merge_timeline([p["timeline"] for p in pages])}


def merge_stats(stats: list[dict[str, Any]], histogram: bool) -> dict[str, Any]:
    late: Counter[int] = Counter()
    outcomes: Counter[str] = Counter()
    for s in stats:
        late.update({int(k): v for k, v in s["late_us"].items()})
        outcomes.update(s["outcomes"])
    out: dict[str, Any] = {
        "requests": sum(s["requests"] for s in stats), "outcomes": dict(outcomes),
        **late_figures(late),
        "drain_wait_ms": round(sum(s["drain_wait_ms"] for s in stats), 3),
        "timeline": merge_timeline([s["timeline"] for s in stats])}
    if histogram:
        out["late_us"] = {str(k): v for k, v in sorted(late.items())}
    return out
