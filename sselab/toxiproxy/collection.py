"""Every proxy of one server, by name: create, populate, update, delete, reset.

Follows Toxiproxy's ``proxy_collection.go`` and ``proxy.go``: a new proxy is enabled unless the
body says ``"enabled": false``; ``/populate`` validates every entry first, keeps an existing proxy
whose (resolved) listen address and upstream are unchanged, replaces one that differs, and stops
at the first failure, reporting the proxies handled so far; changing ``listen`` or ``upstream``
restarts a proxy and drops its connections.
"""

from __future__ import annotations

import asyncio
from typing import Any

from . import errors
from .proxy import Proxy


class _Fields:
    def __init__(self, name: str, listen: str, upstream: str, enabled: bool) -> None:
        self.name, self.listen, self.upstream, self.enabled = name, listen, upstream, enabled


def _fields(body: Any, defaults: _Fields, where: str = "") -> _Fields:
    if not isinstance(body, dict):
        raise errors.bad_request_body(f"a proxy must be a JSON object, not {errors.describe(body)}")
    return _Fields(
        errors.field(body, "name", str, defaults.name, where),
        errors.field(body, "listen", str, defaults.listen, where),
        errors.field(body, "upstream", str, defaults.upstream, where),
        errors.field(body, "enabled", bool, defaults.enabled, where),
    )


class ProxyCollection:
    def __init__(self) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise errors.proxy_not_found()
        return proxy

    async def create(self, body: Any) -> Proxy:
        f = _fields(body, _Fields("", "", "", True))
        if not f.name:
            raise errors.missing_field("name")
        if not f.upstream:
            raise errors.missing_field("upstream")
        async with self.lock:
            if f.name in self.proxies:
                raise errors.proxy_already_exists()
            proxy = Proxy(f.name, f.listen, f.upstream)
            if f.enabled:
                await proxy.start()
            self.proxies[f.name] = proxy
            return proxy

    async def populate(self, body: Any) -> tuple[list[Proxy], errors.ApiError | None]:
        if not isinstance(body, list):
            raise errors.bad_request_body(
                f"populate takes a JSON array of proxies, not {errors.describe(body)}")
        entries = []
        for i, item in enumerate(body, 1):
            f = _fields(item, _Fields("", "", "", True), f" at proxy {i}")
            if not f.name:
                raise errors.missing_field(f"name at proxy {i}")
            if not f.upstream:
                raise errors.missing_field(f"upstream at proxy {i}")
            entries.append(f)
        done: list[Proxy] = []
        async with self.lock:
            for f in entries:
                try:
                    done.append(await self._add_or_replace(f))
                except errors.ApiError as e:
                    return done, e
        return done, None

    async def _add_or_replace(self, f: _Fields) -> Proxy:
        existing = self.proxies.get(f.name)
        if existing is not None:
            if not await existing.differs(f.listen, f.upstream):
                return existing
            existing.stop()
            del self.proxies[f.name]
        proxy = Proxy(f.name, f.listen, f.upstream)
        if f.enabled:
            await proxy.start()
        self.proxies[f.name] = proxy
        return proxy

    async def update(self, name: str, body: Any) -> Proxy:
        async with self.lock:
            proxy = self.get(name)
            f = _fields(body, _Fields(name, proxy.listen, proxy.upstream, proxy.enabled))
            if await proxy.differs(f.listen, f.upstream):
                proxy.stop()
                proxy.listen, proxy.upstream = f.listen, f.upstream
            if f.enabled and not proxy.enabled:
                await proxy.start()
            elif not f.enabled:
                proxy.stop()
            return proxy

    async def remove(self, name: str) -> None:
        async with self.lock:
            self.get(name).stop()
            del self.proxies[name]

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic (``POST /reset``)."""
        async with self.lock:
            for proxy in list(self.proxies.values()):
                await proxy.start()
                await proxy.toxics.reset()

    async def clear(self) -> None:
        async with self.lock:
            for proxy in self.proxies.values():
                proxy.stop()
            self.proxies.clear()
