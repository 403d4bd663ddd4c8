"""Run the embedded Toxiproxy-compatible server: in the caller's event loop, or in a thread.

Deliberate difference: the default port is 0 (a free port), not Toxiproxy's 8474, because the
embedded server is mostly started by tests; the ``sselab toxiproxy`` command defaults to 8474.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from aiohttp import web

from .api import make_app
from .collection import ProxyCollection


class ToxiproxyServer:
    """The API server and its proxies, on the running event loop.

    ``async with ToxiproxyServer() as server:`` then point any Toxiproxy client at
    ``server.api_url``. Stopping removes every proxy and closes their connections.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.collection = ProxyCollection()
        self._runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        runner = web.AppRunner(make_app(self.collection, bound_host=self.host), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        await self.collection.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ToxiproxyServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class ThreadedToxiproxy:
    """A :class:`ToxiproxyServer` running on its own event loop in a daemon thread."""

    def __init__(self, server: ToxiproxyServer, loop: asyncio.AbstractEventLoop,
                 thread: threading.Thread) -> None:
        self.server = server
        self._loop = loop
        self._thread = thread

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def api_url(self) -> str:
        return self.server.api_url

    def stop(self, timeout: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def __enter__(self) -> ThreadedToxiproxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(host: str = "127.0.0.1", port: int = 0,
                    timeout: float = 10.0) -> ThreadedToxiproxy:
    """Start the server in a background thread; returns once it listens (or raises why not)."""
    server = ToxiproxyServer(host, port)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as e:  # reported to the caller below
            failure.append(e)
            started.set()
            loop.close()
            return
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name="sselab-toxiproxy", daemon=True)
    thread.start()
    if not started.wait(timeout):
        raise TimeoutError(f"the embedded Toxiproxy did not start within {timeout} s")
    if failure:
        raise failure[0]
    return ThreadedToxiproxy(server, loop, thread)
