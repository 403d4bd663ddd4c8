"""Run the recording proxy from Python: :class:`RecordingProxy` (async) and
:class:`RecordingProxyThread` (sync)::

    with RecordingProxyThread("https://api.openai.com", out="recordings") as proxy:
        client = OpenAI(base_url=proxy.base_url + "/v1")
        ...                               # one recording per request, in recordings/
    proxy.written                         # the files, in the order they were written
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .._background import LoopThread
from ..errors import ConfigError
from ..server.recorder import Recorder, RequestRecord
from .proxy import ProxyState, create_proxy_app, ssl_context
from .schema import DEFAULT_MATCH


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class RecordingProxy:
    """The recording proxy on a free port (by default) of 127.0.0.1, as an async context
    manager. ``upstream_ca`` trusts one more CA (a self-signed upstream); ``insecure`` trusts
    any certificate. Other options are :class:`~sselab.record.proxy.ProxyState`'s."""

    def __init__(self, upstream: str, out: str | Path | None = "recordings", *,
                 host: str = "127.0.0.1", port: int = 0, upstream_ca: str | Path | None = None,
                 insecure: bool = False, match: tuple[str, ...] = DEFAULT_MATCH,
                 on_finish: Callable[[RequestRecord], None] | None = None,
                 **options: Any) -> None:
        if not upstream.startswith(("http://", "https://")):
            raise ConfigError(f"--upstream: expected an http:// or https:// URL; got "
                              f"{upstream!r}")
        self.host, self.port = host, port
        self.state = ProxyState(upstream, Path(out) if out is not None else None,
                                ssl=ssl_context(upstream_ca, insecure), match=tuple(match),
                                recorder=Recorder(on_finish=on_finish), **options)
        self._runner: web.AppRunner | None = None

    @property
    def recorder(self) -> Recorder:
        return self.state.recorder

    @property
    def written(self) -> list[Path]:
        return list(self.state.written)

    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise ConfigError("the recording proxy is not running: use `async with`")
        return _url(self.host, self.port)

    def url(self, path: str) -> str:
        return self.base_url + path

    async def start(self) -> RecordingProxy:
        runner = web.AppRunner(create_proxy_app(self.state), handler_cancellation=True,
                               access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        sockets = site._server.sockets if site._server else ()  # noqa: SLF001
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        self._runner = runner
        return self

    async def flush(self) -> list[Path]:
        """Wait until every recording begun so far is on disk; return all written."""
        await self.state.flush()
        return self.written

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()  # writes what is pending first
            self._runner = None

    async def __aenter__(self) -> RecordingProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class RecordingProxyThread:
    """The recording proxy in a background thread with its own event loop, for sync code."""

    def __init__(self, upstream: str, out: str | Path | None = "recordings",
                 **kwargs: Any) -> None:
        self._proxy = RecordingProxy(upstream, out, **kwargs)
        self._bg = LoopThread(lambda: self._proxy.start(), lambda: self._proxy.stop(),
                              "sselab-recorder", start_timeout=30.0, stop_timeout=10.0)

    @property
    def state(self) -> ProxyState:
        return self._proxy.state

    @property
    def recorder(self) -> Recorder:
        return self._proxy.recorder

    @property
    def written(self) -> list[Path]:
        return self._proxy.written

    @property
    def base_url(self) -> str:
        return self._proxy.base_url

    def url(self, path: str) -> str:
        return self._proxy.url(path)

    def start(self) -> RecordingProxyThread:
        self._bg.start()
        return self

    def flush(self, timeout: float = 10.0) -> list[Path]:
        """Wait until every recording begun so far is on disk; return all written."""
        if self._bg.loop is None:
            return self.written
        self._bg.call(self._proxy.flush(), timeout)
        return self.written

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Path]:
        """Wait until ``count`` requests have finished and their recordings are written."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [r for r in self.recorder if r.done]
            if len(done) >= count:
                return self.flush(max(0.1, deadline - time.monotonic()))
            time.sleep(0.005)
        raise TimeoutError(f"{count} requests not finished within {timeout:g} s "
                           f"({len(self.recorder)} seen)")

    def stop(self) -> None:
        self._bg.stop()

    def __enter__(self) -> RecordingProxyThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
