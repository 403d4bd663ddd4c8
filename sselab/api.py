"""Run the simulator from Python: :class:`Simulator` (async) and :class:`SimulatorThread` (sync).

::

    async with Simulator() as sim:
        client = AsyncOpenAI(base_url=sim.base_url + "/v1", api_key="x")
        ...
        assert sim.last.outcome == "completed"

    with SimulatorThread() as sim:       # for sync tests and sync SDK clients
        OpenAI(base_url=sim.base_url + "/v1", api_key="x")
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from ._background import LoopThread
from .errors import ConfigError, UnknownScenarioError
from .scenario import Scenario, load_all, load_text
from .server.app import STATE_KEY, SimState, create_app
from .server.connections import ConnectionGuard, ConnectionLimits
from .server.guard import ControlGuard
from .server.listener import serve_guarded
from .server.recorder import DEFAULT_BUDGET, Recorder, RequestRecord
from .server.sizes import parse_size


def connection_limits(header_timeout: float, idle_timeout: float,
           max_connections: int | None) -> ConnectionLimits:
    """The connection limits, or a :class:`ConfigError` naming the one that is wrong."""
    try:
        return ConnectionLimits(header_timeout, idle_timeout, max_connections)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _RecorderView:
    """What every running simulator (one process or several) answers from its recorder."""

    recorder: Recorder

    @property
    def requests(self) -> list[RequestRecord]:
        """Every recorded request, oldest first."""
        return self.recorder.requests

    @property
    def last(self) -> RequestRecord | None:
        return self.recorder.last

    @property
    def call_count(self) -> int:
        return self.recorder.call_count

    @property
    def called(self) -> bool:
        return self.recorder.called

    def reset(self) -> None:
        self.recorder.reset()


class _Common(_RecorderView):
    _state: SimState | None

    def _poll(self, predicate: Callable[[RequestRecord], bool] | None, deadline: float,
              timeout: float) -> RequestRecord | None:
        found = self.recorder.find(predicate or (lambda r: r.done))
        if found is None and time.monotonic() > deadline:
            raise TimeoutError(f"no matching request within {timeout:g} s "
                               f"({self.call_count} recorded)")
        return found

    def add_scenario(self, scenario: Scenario | str) -> Scenario:
        """Add (or replace) a scenario, given as a Scenario or YAML text, while running."""
        if isinstance(scenario, str):
            scenario = load_text(scenario, "<add_scenario>")
        if self._state is None:
            raise ConfigError("the simulator is not running")
        self._state.add(scenario)
        return scenario

    def set_default_scenario(self, name: str) -> None:
        """Answer requests that name no scenario with ``name`` from now on."""
        if self._state is None:
            raise ConfigError("the simulator is not running")
        if name not in self._state.scenarios:
            raise UnknownScenarioError(name, list(self._state.scenarios))
        self._state.default_scenario = name

    @property
    def scenarios(self) -> Mapping[str, Scenario]:
        return dict(self._state.scenarios) if self._state else {}


def _load(scenario_dirs: Iterable[str | Path], extra: Iterable[Scenario]) -> dict[str, Scenario]:
    scenarios = load_all(scenario_dirs)
    for s in extra:
        scenarios[s.name] = s
    return scenarios


class Simulator(_Common):
    """The simulator on a free port (by default) of 127.0.0.1, as an async context manager.

    Control API (``/_sselab/*``): ``control_token`` makes every control request need
    ``Authorization: Bearer TOKEN``; ``allowed_hosts`` adds names the ``Host`` header may
    carry. Connections: ``header_timeout`` and ``idle_timeout`` (seconds), ``max_connections``
    (None: derived from the file-descriptor limit). See docs/limits-and-safety.md.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 scenario_dirs: Iterable[str | Path] = (), scenarios: Iterable[Scenario] = (),
                 default_scenario: str = "default", max_stall: float = 300.0,
                 on_finish: Callable[[RequestRecord], None] | None = None,
                 timeline_budget: int | str = DEFAULT_BUDGET,
                 on_timeline_drop: Callable[[str], None] | None = None,
                 control_token: str | None = None, allowed_hosts: Iterable[str] = (),
                 header_timeout: float = 10.0, idle_timeout: float = 75.0,
                 max_connections: int | None = None) -> None:
        """``timeline_budget``: the most memory the request timeline takes, in bytes or as
        ``"256MB"``/``"1GiB"``; ``on_timeline_drop`` is told (a line) when it forgets some."""
        self.host, self.port = host, port
        self._scenario_dirs, self._extra = list(scenario_dirs), list(scenarios)
        self.default_scenario, self.max_stall = default_scenario, max_stall
        try:
            budget = parse_size(timeline_budget)
        except ValueError as exc:
            raise ConfigError(f"timeline_budget: {exc}") from None
        self.recorder = Recorder(on_finish=on_finish, budget=budget, on_drop=on_timeline_drop)
        self.control_guard = ControlGuard.make(host, allowed_hosts, control_token)
        self.limits = connection_limits(header_timeout, idle_timeout, max_connections)
        self.connections: ConnectionGuard | None = None
        self._runner: web.AppRunner | None = None
        self._state = None

    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise ConfigError("the simulator is not running: use `async with Simulator()`")
        return _url(self.host, self.port)

    def url(self, path: str) -> str:
        return self.base_url + path

    async def start(self) -> Simulator:
        app = create_app(_load(self._scenario_dirs, self._extra), self.default_scenario,
                         max_stall=self.max_stall, recorder=self.recorder,
                         control_guard=self.control_guard)
        self._state = app[STATE_KEY]
        runner, site, guard = await serve_guarded(app, self.host, self.port, self.limits)
        sockets = site.sockets
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        self.connections = guard
        self._runner = runner
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_for(self, predicate: Callable[[RequestRecord], bool] | None = None, *,
                       timeout: float = 5.0) -> RequestRecord:
        """Wait until a request matching ``predicate`` (default: any finished one) exists."""
        deadline = time.monotonic() + timeout
        while (found := self._poll(predicate, deadline, timeout)) is None:
            await asyncio.sleep(0.002)
        return found


class SimulatorThread(_Common):
    """The simulator in a background thread with its own event loop, for sync code."""

    def __init__(self, **kwargs: Any) -> None:
        self._sim = Simulator(**kwargs)
        self.recorder = self._sim.recorder
        self._bg = LoopThread(lambda: self._sim.start(), lambda: self._sim.stop(),
                              "sselab-simulator", start_timeout=30.0, stop_timeout=10.0)

    @property
    def _state(self) -> SimState | None:  # type: ignore[override]
        return self._sim._state  # noqa: SLF001

    @property
    def base_url(self) -> str:
        return self._sim.base_url

    def url(self, path: str) -> str:
        return self._sim.url(path)

    def start(self) -> SimulatorThread:
        self._bg.start()
        return self

    def stop(self) -> None:
        self._bg.stop()

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, predicate: Callable[[RequestRecord], bool] | None = None, *,
                 timeout: float = 5.0) -> RequestRecord:
        """Wait until a request matching ``predicate`` (default: any finished one) exists."""
        deadline = time.monotonic() + timeout
        while (found := self._poll(predicate, deadline, timeout)) is None:
            time.sleep(0.002)
        return found
