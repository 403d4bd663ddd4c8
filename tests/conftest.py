"""Shared fixtures: a running simulator (async and thread-backed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from sselab import Simulator, SimulatorThread

pytest_plugins = ["pytester"]  # tests/plugin runs example test files through the plugin


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as s:
        yield s


@pytest.fixture
def sim_thread() -> Iterator[SimulatorThread]:
    with SimulatorThread() as s:
        yield s
