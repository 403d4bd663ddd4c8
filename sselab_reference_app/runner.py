"""Run the app on 127.0.0.1 (a free port by default), always with ``handler_cancellation=True``.

::

    async with AppServer(upstream_base_url=sim.base_url + "/v1") as server:
        ...  # server.url, server.store

    with AppThread(upstream_base_url=..., idle_timeout=2) as server:   # sync code, browsers
        page.goto(server.url)
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from .app import STATE, create_app
from .store import AnswerStore


class AppServer:
    """The app as an async context manager. Pass an app, or ``create_app`` keyword arguments."""

    def __init__(self, app: web.Application | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, **create_app_kwargs: Any) -> None:
        self.app = app if app is not None else create_app(**create_app_kwargs)
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the app is not running: use `async with AppServer()`")
        return f"http://{self.host}:{self.port}"

    @property
    def store(self) -> AnswerStore:
        return self.app[STATE].store

    async def start(self) -> AppServer:
        runner = web.AppRunner(self.app, handler_cancellation=True, access_log=None,
                               shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        sockets = site._server.sockets if site._server else ()  # noqa: SLF001
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        self._runner = runner
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> AppServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class AppThread:
    """The app in a background thread with its own event loop, for sync code."""

    def __init__(self, app: web.Application | None = None, **kwargs: Any) -> None:
        self._server = AppServer(app, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def app(self) -> web.Application:
        return self._server.app

    @property
    def store(self) -> AnswerStore:
        return self._server.store

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the app's loop (the store is not thread-safe) and return it."""
        if self._loop is None:
            raise RuntimeError("the app is not running")

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def start(self) -> AppThread:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._server.start())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._server.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="reference-app", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            self._loop = self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(15)
            self._loop = self._thread = None

    def __enter__(self) -> AppThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
