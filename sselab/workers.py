"""The simulator as several processes sharing one port: ``sselab serve --workers N``, and
:class:`Workers` from Python.

Each worker is a child process (``python -c``) listening on the public port with
``SO_REUSEPORT`` (the kernel spreads new connections over the workers) and pacing its own
streams, plus a private control port on 127.0.0.1. Request ids come from one counter the
workers share (a locked 8-byte file), so they are unique and in arrival order across workers.
A ``/_sselab/`` request on the public port is fanned out to every worker and the answers merged
(:mod:`sselab.server.fanout`). Where the OS has no ``SO_REUSEPORT``, :class:`Workers` refuses
(:class:`~sselab.errors.ConfigError`) and ``sselab serve`` runs one process, saying so.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import mmap
import os
import pickle
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .api import _load, _RecorderView, _url, connection_limits
from .errors import ConfigError, UnknownScenarioError
from .remote import RemoteRecorder, call
from .scenario import Scenario, load_text
from .scenario.dump import to_data
from .server.recorder import DEFAULT_BUDGET, RequestRecord
from .server.sizes import parse_size

HAS_REUSEPORT = hasattr(socket, "SO_REUSEPORT")
START_TIMEOUT = 30.0


class SharedCounter:
    """``next()`` gives 1, 2, 3... across every process that opens the same file."""

    def __init__(self, path: str | Path) -> None:
        self._file = open(path, "r+b")  # noqa: SIM115 (kept open for the process's life)
        self._map = mmap.mmap(self._file.fileno(), 8)

    def __iter__(self) -> SharedCounter:
        return self

    def __next__(self) -> int:
        fcntl.flock(self._file, fcntl.LOCK_EX)
        try:
            n = struct.unpack_from("q", self._map)[0] + 1
            struct.pack_into("q", self._map, 0, n)
        finally:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        return n


class Workers(_RecorderView):
    """``n`` simulator processes on one port, started and stopped from here (a context
    manager). Reads like :class:`~sselab.SimulatorThread`: ``base_url``, ``requests``,
    ``last``, ``wait_for``, ``reset``, ``add_scenario``... each answered over the control API."""

    def __init__(self, n: int = 2, *, host: str = "127.0.0.1", port: int = 0,
                 scenario_dirs: Iterable[str | Path] = (), scenarios: Iterable[Scenario] = (),
                 default_scenario: str = "default", max_stall: float = 300.0,
                 timeline_budget: int | str = DEFAULT_BUDGET, log: bool = False,
                 control_token: str | None = None, allowed_hosts: Iterable[str] = (),
                 header_timeout: float = 10.0, idle_timeout: float = 75.0,
                 max_connections: int | None = None) -> None:
        """``timeline_budget`` is each worker's; ``log``: a line per finished request on
        stdout, from the worker that served it. The control API's guard (``control_token``,
        ``allowed_hosts``) and the connection limits are :class:`~sselab.Simulator`'s, in
        every worker; ``max_connections`` is each worker's."""
        if n < 1:
            raise ConfigError(f"workers: give at least 1, not {n}")
        # refused here, not in a worker
        connection_limits(header_timeout, idle_timeout, max_connections)
        self._guard = {"token": control_token or None, "allowed_hosts": list(allowed_hosts),
                       "header_timeout": header_timeout, "idle_timeout": idle_timeout,
                       "max_connections": max_connections}
        try:
            self._budget = parse_size(timeline_budget)
        except ValueError as exc:
            raise ConfigError(f"timeline_budget: {exc}") from None
        self.n, self.host, self.port = n, host, port
        self._dirs = [str(d) for d in scenario_dirs]
        self._extra = list(scenarios)
        self.default_scenario, self.max_stall, self.log = default_scenario, max_stall, log
        self._scenarios = _load(self._dirs, self._extra)
        if default_scenario not in self._scenarios:
            raise UnknownScenarioError(default_scenario, list(self._scenarios))
        self._procs: list[subprocess.Popen[bytes]] = []
        self._dir: str | None = None
        self.control_ports: list[int] = []
        self.recorder = RemoteRecorder(lambda: self.base_url, token=self._guard["token"])

    # -- starting and stopping --
    def start(self) -> Workers:
        if not HAS_REUSEPORT:
            raise ConfigError("workers: this OS has no SO_REUSEPORT, so several processes "
                              "cannot share one port; run one (workers=1)")
        self._dir = tempfile.mkdtemp(prefix="sselab-workers-")
        Path(self._dir, "ids").write_bytes(bytes(8))
        Path(self._dir, "extra.pickle").write_bytes(pickle.dumps(self._extra))
        hold = self._hold_port() if self.port == 0 else None
        try:
            for i in range(self.n):
                self._procs.append(self._spawn(i))
            self.control_ports = self._wait_ready()
            tmp = Path(self._dir, "peers.json.tmp")
            tmp.write_text(json.dumps(self.control_ports))
            tmp.replace(Path(self._dir, "peers.json"))
        except BaseException:
            self.stop()
            raise
        finally:
            if hold is not None:
                hold.close()
        return self

    def _hold_port(self) -> socket.socket:
        """Choose a free port and keep it bound (not listening) until the workers have it."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        return sock

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        assert self._dir is not None
        config = {"index": index, "host": self.host, "port": self.port, "dir": self._dir,
                  "scenario_dirs": self._dirs, "default_scenario": self.default_scenario,
                  "max_stall": self.max_stall, "budget": self._budget, "log": self.log,
                  **self._guard}
        path = Path(self._dir, f"worker-{index}.json")
        path.write_text(json.dumps(config))
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        return subprocess.Popen(
            [sys.executable, "-c", "from sselab.workers import worker_main; worker_main()",
             str(path)], env=env)

    def _wait_ready(self) -> list[int]:
        assert self._dir is not None
        deadline = time.monotonic() + START_TIMEOUT
        files = [Path(self._dir, f"worker-{i}.port") for i in range(self.n)]
        while not all(f.exists() for f in files):
            for i, proc in enumerate(self._procs):
                if proc.poll() is not None:
                    err = Path(self._dir, f"worker-{i}.error")
                    why = err.read_text().strip() if err.exists() else f"status {proc.returncode}"
                    raise ConfigError(f"worker {i} did not start: {why}")
            if time.monotonic() > deadline:
                raise ConfigError(f"the workers did not start within {START_TIMEOUT:g} s")
            time.sleep(0.01)
        return [int(f.read_text()) for f in files]

    def stop(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self._procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs = []
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def __enter__(self) -> Workers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the control API --
    @property
    def base_url(self) -> str:
        if not self._procs:
            raise ConfigError("the workers are not running: use `with Workers(2)`")
        return _url(self.host, self.port)

    def url(self, path: str) -> str:
        return self.base_url + path

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        return call(self.base_url, method, path, body, token=self._guard["token"])

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_sselab/stats")  # type: ignore[no-any-return]

    def add_scenario(self, scenario: Scenario | str) -> Scenario:
        """Add (or replace) a scenario in every worker, given as a Scenario or YAML text."""
        if isinstance(scenario, str):
            scenario = load_text(scenario, "<add_scenario>")
        text = json.dumps(to_data(scenario), ensure_ascii=False)  # JSON is YAML
        self._call("POST", "/_sselab/scenarios", {"yaml": text})
        self._scenarios[scenario.name] = scenario
        return scenario

    def set_default_scenario(self, name: str) -> None:
        if name not in self._scenarios:
            raise UnknownScenarioError(name, list(self._scenarios))
        self._call("PUT", "/_sselab/default-scenario", {"scenario": name})
        self.default_scenario = name

    @property
    def scenarios(self) -> dict[str, Scenario]:
        return dict(self._scenarios)

    def _poll(self, predicate: Callable[[RequestRecord], bool] | None, deadline: float,
              timeout: float) -> RequestRecord | None:
        found = self.recorder.find(predicate or (lambda r: r.done))
        if found is None and time.monotonic() > deadline:
            raise TimeoutError(f"no matching request within {timeout:g} s "
                               f"({self.call_count} recorded)")
        return found

    def wait_for(self, predicate: Callable[[RequestRecord], bool] | None = None, *,
                 timeout: float = 5.0) -> RequestRecord:
        """Wait until a request matching ``predicate`` (default: any finished one) exists."""
        deadline = time.monotonic() + timeout
        while (found := self._poll(predicate, deadline, timeout)) is None:
            time.sleep(0.005)
        return found


class AsyncWorkers(Workers):
    """:class:`Workers` for async code: ``async with``, ``await wait_for(...)``."""

    async def __aenter__(self) -> AsyncWorkers:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    async def wait_for(  # type: ignore[override]
            self, predicate: Callable[[RequestRecord], bool] | None = None, *,
            timeout: float = 5.0) -> RequestRecord:
        deadline = time.monotonic() + timeout
        while (found := await asyncio.to_thread(self._poll, predicate, deadline,
                                                timeout)) is None:
            await asyncio.sleep(0.005)
        return found


# -- in the worker process ----------------------------------------------------------------------
def worker_main() -> None:
    """A worker's entry point: ``python -c ... CONFIG.json`` (started by :class:`Workers`)."""
    config = json.loads(Path(sys.argv[1]).read_text())
    try:
        asyncio.run(_serve(config))
    except Exception as exc:  # told to the parent, which names the worker
        Path(config["dir"], f"worker-{config['index']}.error").write_text(
            f"{type(exc).__name__}: {exc}")
        sys.exit(2)


async def _serve(config: dict[str, Any]) -> None:
    from aiohttp import web

    from ._lifecycle import stop_on_signals
    from .cli import _full_gc_when_idle, _log_to_stderr
    from .server import fanout
    from .server.app import create_app
    from .server.guard import ControlGuard
    from .server.listener import serve_guarded
    from .server.recorder import Recorder, log_line

    folder = Path(config["dir"])
    stop = stop_on_signals()
    extra = pickle.loads(Path(folder, "extra.pickle").read_bytes())  # noqa: S301 (our own)
    recorder = Recorder(on_finish=(lambda r: print(log_line(r), flush=True))
                        if config["log"] else None, budget=config["budget"],
                        on_drop=lambda line: print(line, file=sys.stderr, flush=True))
    recorder._ids = SharedCounter(folder / "ids")  # type: ignore[assignment]  # noqa: SLF001
    control = ControlGuard.make(config["host"], config["allowed_hosts"], config["token"])
    app = create_app(_load(config["scenario_dirs"], extra), config["default_scenario"],
                     max_stall=config["max_stall"], recorder=recorder, control_guard=control)
    peers_file = folder / "peers.json"
    known: list[int] = []

    def ports() -> list[int]:
        if not known:
            known.extend(json.loads(peers_file.read_text()))
        return known

    peers = fanout.Peers(0, ports)
    fanout.install(app, peers)
    _log_to_stderr()
    # the public port, shared: timeouts and this worker's connection cap
    limits = connection_limits(config["header_timeout"], config["idle_timeout"],
                               config["max_connections"])
    runner, _, _ = await serve_guarded(app, config["host"], config["port"], limits,
                                       reuse_port=True)
    private = web.TCPSite(runner, "127.0.0.1", 0)
    await private.start()
    server = private._server  # noqa: SLF001
    peers.own = server.sockets[0].getsockname()[1] if server else 0
    tmp = folder / f"worker-{config['index']}.port.tmp"
    tmp.write_text(str(peers.own))
    tmp.replace(folder / f"worker-{config['index']}.port")
    housekeeping = asyncio.create_task(_full_gc_when_idle(SimpleNamespace(recorder=recorder)))
    try:
        await stop.wait()
    finally:
        housekeeping.cancel()
        await runner.cleanup()
