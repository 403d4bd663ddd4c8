"""Shared fixtures: a running simulator (async and thread-backed).

``--sselab-workers N`` (N > 1) makes these fixtures start ``N`` worker processes sharing one
port (:class:`sselab.workers.Workers`) instead of one in-process simulator, so that the same
tests check that the control API over several workers answers as one process does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from sselab import Simulator, SimulatorThread

pytest_plugins = ["pytester"]  # tests/plugin runs example test files through the plugin


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--sselab-workers", type=int, default=1, metavar="N",
                     help="run the shared simulator fixtures as N worker processes")


@pytest.fixture(scope="session")
def sim_workers(request: pytest.FixtureRequest) -> int:
    return int(request.config.getoption("--sselab-workers"))


@pytest.fixture(scope="session")
def sim_factory(sim_workers: int) -> Callable[..., Any]:
    """``sim_factory(**Simulator kwargs)``: a SimulatorThread, or Workers with the option."""
    def make(**kwargs: Any) -> Any:
        if sim_workers > 1:
            from sselab.workers import Workers

            return Workers(sim_workers, **kwargs)
        return SimulatorThread(**kwargs)

    return make


@pytest.fixture
async def sim(sim_workers: int) -> AsyncIterator[Simulator]:
    if sim_workers > 1:
        from sselab.workers import AsyncWorkers

        async with AsyncWorkers(sim_workers) as w:
            yield w  # type: ignore[misc]
        return
    async with Simulator() as s:
        yield s


@pytest.fixture
def sim_thread(sim_factory: Callable[..., Any]) -> Iterator[SimulatorThread]:
    with sim_factory() as s:
        yield s
