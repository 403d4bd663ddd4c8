"""Fixtures for the reference app's backend tests: the app in front of the simulator, and a
small SSE client that records when each event arrived."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from reference_app import AppServer
from simulator import Simulator
from simulator.sse_parse import SSEDecoder


@dataclass
class Received:
    """One ``/api/chat`` exchange as the browser would see it."""

    status: int
    headers: dict[str, str]
    events: list[tuple[float, str, Any]] = field(default_factory=list)  # (monotonic, type, data)
    comments: int = 0
    raw: bytes = b""

    @property
    def types(self) -> list[str]:
        return [t for _, t, _ in self.events]

    @property
    def text(self) -> str:
        return "".join(d["text"] for _, t, d in self.events if t == "token")

    def last(self, kind: str) -> Any:
        return next(d for _, t, d in reversed(self.events) if t == kind)

    def times(self, kind: str) -> list[float]:
        return [at for at, t, _ in self.events if t == kind]


def body(model: str | None = None, prompt: str = "hi") -> dict[str, Any]:
    out: dict[str, Any] = {"messages": [{"role": "user", "content": prompt}]}
    if model:
        out["model"] = model
    return out


async def read_events(resp: aiohttp.ClientResponse, *, stop_after_tokens: int | None = None,
                      timeout: float = 15.0) -> Received:
    got = Received(resp.status, dict(resp.headers))
    decoder = SSEDecoder()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = await asyncio.wait_for(resp.content.readany(), deadline - time.monotonic())
        except asyncio.TimeoutError:
            break
        if not chunk:
            break
        got.raw += chunk
        now = time.monotonic()
        for ev in decoder.feed(chunk):
            got.events.append((now, ev.event, json.loads(ev.data)))
        got.comments = decoder.comments
        if stop_after_tokens is not None and got.types.count("token") >= stop_after_tokens:
            break
    return got


Chat = Callable[..., Awaitable[Received]]


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
        server = AppServer(upstream_base_url=sim.base_url + "/v1", api_key="test", **kwargs)
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
