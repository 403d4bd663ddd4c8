"""Fixtures for the check battery's tests: relay apps (fixture variants and the reference app)
wired to a simulator, each on a free port of 127.0.0.1 and stopped after the test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from check_apps import running_app
from check_shots import ARTIFACTS

from sselab import Simulator


@pytest.fixture
async def relay(sim: Simulator) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """``url = await relay(flags=("buffered",))``: a fixture relay app using ``sim``."""
    async with contextlib.AsyncExitStack() as stack:
        async def start(flags: tuple[str, ...] = (), idle_timeout: float = 1.0) -> str:
            app = await stack.enter_async_context(
                running_app(sim.base_url + "/v1", flags=flags, idle_timeout=idle_timeout))
            return app.url + "/api/chat"

        yield start


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
