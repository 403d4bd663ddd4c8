"""Fixtures for the reference app's backend tests: the app in front of the simulator."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from refapp_client import Received, body, read_events

from sselab import Simulator
from sselab_reference_app import AppServer


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def app_factory(sim: Simulator) -> AsyncIterator[Callable[..., Awaitable[AppServer]]]:
    """Start a reference app in front of ``sim``; keyword arguments go to ``create_app``."""
    started: list[AppServer] = []

    async def start(**kwargs: Any) -> AppServer:
        kwargs.setdefault("idle_timeout", 2.0)
        kwargs.setdefault("keepalive_interval", 5.0)
        kwargs.setdefault("upstream_base_url", sim.base_url + "/v1")
        server = AppServer(api_key="test", **kwargs)
        started.append(await server.start())
        return server

    yield start
    for server in started:
        port = server.port
        await server.stop()
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


@pytest.fixture
async def app(app_factory: Callable[..., Awaitable[AppServer]]) -> AppServer:
    return await app_factory()


@pytest.fixture
def chat(http: aiohttp.ClientSession) -> Callable[..., Awaitable[Received]]:
    async def run(server: AppServer, model: str | None = None, *,
                  headers: dict[str, str] | None = None, timeout: float = 15.0) -> Received:
        async with http.post(server.url + "/api/chat", json=body(model),
                             headers=headers or {}) as resp:
            return await read_events(resp, timeout=timeout)

    return run
