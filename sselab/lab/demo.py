"""``sselab demo``: the reference chat inside a lab that chooses what happens around it.

::

    browser ──▶ demo lab (this server) ──path──▶ reference app (variant) ──▶ simulator
                 /             the lab page: controls, the chat in a frame, the live timeline
                 /chat/ ...    the reference app's own page, proxied as it is
                 /_lab/via/{path}/{variant}/api/chat
                               the app's chat request, over the chosen path: ``direct`` or a
                               buffering proxy (``nginx``, ``nginx-gzip``, ``gzip-middleware``)
                               in front of the chosen variant (the reference app, or one of its
                               broken flags); each is started the first time it is chosen
                 /_lab/answer  POST the browser's arrivals: the figures and the picture

The app stays the small copyable example: the lab never changes it, it only routes the app's
own request (the page's ``fetch`` is wrapped from the lab page to time what arrives).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sselab_reference_app import AppServer

from .._background import LoopThread
from ..api import Simulator
from ..buffering import BufferingProxy
from ..errors import UnknownScenarioError
from ..scenario.load import load_file
from .demo_options import PATHS, REFERENCE, VARIANTS, paths, variants
from .demo_view import BrowserSide, answer_view, find_upstream
from .forward import forward
from .replay import Replay
from .routes import PAGE_HEADERS, STATIC, replay_for

DEMO_SCENARIO = Path(__file__).parent / "demo.yaml"


class DemoLab:
    """The simulator, the app variants and paths (started on first use) and the lab page."""

    def __init__(self, *, port: int = 0, scenario: str | None = None,
                 idle_timeout: float = 10.0) -> None:
        self.port, self.idle_timeout = port, idle_timeout
        self.sim = Simulator(scenarios=[load_file(DEMO_SCENARIO)], default_scenario="demo")
        self.scenario = scenario or "demo"
        self._apps: dict[str, AppServer] = {}
        self._proxies: dict[tuple[str, str], BufferingProxy] = {}
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> DemoLab:
        await self.sim.start()
        try:
            if self.scenario not in self.sim.scenarios:
                raise UnknownScenarioError(self.scenario, list(self.sim.scenarios))
            self._session = aiohttp.ClientSession(
                auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None, connect=10))
            await self.target("direct", REFERENCE)
            self._runner = web.AppRunner(self._app(), handler_cancellation=True,
                                         access_log=None, shutdown_timeout=1.0)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
            await site.start()
            self.port = self._runner.addresses[0][1]
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        for proxy in self._proxies.values():
            await proxy.stop()
        for app in self._apps.values():
            await app.stop()
        self._proxies.clear()
        self._apps.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.sim.stop()

    async def __aenter__(self) -> DemoLab:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def target(self, path: str, variant: str) -> str:
        """The base URL of ``variant`` reached over ``path`` (started the first time)."""
        async with self._lock:
            app = self._apps.get(variant)
            if app is None:
                app = AppServer(upstream_base_url=self.sim.base_url + "/v1", api_key="demo",
                                model=self.scenario, idle_timeout=self.idle_timeout,
                                flags=[] if variant == REFERENCE else [variant])
                await app.start()
                self._apps[variant] = app
            if path == "direct":
                return app.url
            proxy = self._proxies.get((path, variant))
            if proxy is None:
                proxy = BufferingProxy(path, app.url)
                await proxy.start()
                self._proxies[(path, variant)] = proxy
            return proxy.url

    # -- the lab's own routes -----------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_get("/", self._page)
        app.router.add_static("/_sselab/lab/", STATIC, append_version=False)
        app.router.add_get("/_lab/options", self._options)
        app.router.add_post("/_lab/answer", self._answer)
        app.router.add_route("*", "/_lab/via/{path}/{variant}/{tail:.*}", self._via)
        app.router.add_get("/chat", self._chat_page)
        app.router.add_get("/chat/", self._chat_page)
        app.router.add_route("*", "/static/{tail:.*}", self._to_app)
        app.router.add_route("*", "/api/{tail:.*}", self._to_app)
        return app

    async def _page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "demo.html", headers=PAGE_HEADERS)

    async def _options(self, request: web.Request) -> web.Response:
        return web.json_response({
            "default": self.scenario, "simulator": self.sim.base_url,
            "scenarios": [{"name": s.name, "description": s.description}
                          for s in sorted(self.sim.scenarios.values(), key=lambda s: s.name)],
            "paths": [vars(c) for c in paths()], "variants": [vars(c) for c in variants()],
        })

    async def _answer(self, request: web.Request) -> web.Response:
        try:
            side = BrowserSide.from_json(await request.json())
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        rec = find_upstream(self.sim.recorder, side.started_at)
        state, runner = self.sim._state, self.sim._runner  # noqa: SLF001
        assert state is not None and runner is not None
        if rec is None:
            return web.json_response(answer_view(side, None, Replay(), None))
        script = state.script(rec.scenario) if rec.scenario in state.scenarios else None
        return web.json_response(answer_view(side, rec, replay_for(runner.app, state, rec),
                                             script))

    async def _via(self, request: web.Request) -> web.StreamResponse:
        path, variant = request.match_info["path"], request.match_info["variant"]
        if path not in PATHS or variant not in VARIANTS:
            return web.json_response({"error": {
                "message": f"unknown path {path!r} or variant {variant!r}", "field": "path"}},
                status=404)
        base = await self.target(path, variant)
        return await self._forward(request, base + "/" + request.match_info["tail"])

    async def _chat_page(self, request: web.Request) -> web.StreamResponse:
        return await self._forward(request, await self.target("direct", REFERENCE) + "/")

    async def _to_app(self, request: web.Request) -> web.StreamResponse:
        return await self._forward(request, await self.target("direct", REFERENCE)
                                   + request.path)

    async def _forward(self, request: web.Request, url: str) -> web.StreamResponse:
        assert self._session is not None
        if request.query_string:
            url += "?" + request.query_string
        return await forward(request, self._session, url)


class DemoLabThread:
    """The demo lab in a background thread with its own loop, for sync code and browsers."""

    def __init__(self, **kwargs: Any) -> None:
        self.lab = DemoLab(**kwargs)
        self._bg = LoopThread(lambda: self.lab.start(), lambda: self.lab.stop(),
                              "sselab-demo-lab", start_timeout=60.0, stop_timeout=20.0)

    @property
    def url(self) -> str:
        return self.lab.url

    def start(self) -> DemoLabThread:
        self._bg.start()
        return self

    def stop(self) -> None:
        self._bg.stop()

    def __enter__(self) -> DemoLabThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
