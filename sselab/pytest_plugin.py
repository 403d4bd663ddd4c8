"""sselab's pytest plugin (entry point ``sselab`` in the ``pytest11`` group): fixtures to write
your own streaming contract tests in a few lines.

Fixtures
--------
``sselab_simulator``        the simulator in a background thread (:class:`SimulatorThread`),
                            usable from sync and async tests; point your app at
                            ``sselab_simulator.base_url + "/v1"``
``sselab_simulator_async``  the simulator on the test's own event loop (:class:`Simulator`)
``sselab_toxiproxy``        a ``toxiproxy-python`` client on a fresh Toxiproxy-compatible server
``sselab_buffering_proxy``  a factory: ``sselab_buffering_proxy("nginx", upstream_url)`` starts a
                            buffering reverse proxy (stopped after the test)
``sselab_check``            runs ``sselab check``'s battery against your endpoint, using
                            ``sselab_simulator``: ``report = sselab_check(url, only=[...])``
``sselab_cassette``         records a real provider's answers once and replays them byte for
                            byte (``--sselab-record-mode``; ``sselab.record.pytest_cassette``)

Marker
------
``@pytest.mark.sselab(scenario="mid-stream-error", scenarios=[yaml_text, ...],
max_stall=30)`` configures the simulator fixtures: extra scenarios (YAML text) and the default
scenario (what requests naming none get).

Example::

    @pytest.fixture
    def app(sselab_simulator):
        with MyAppThread(openai_base_url=sselab_simulator.base_url + "/v1") as app:
            yield app

    def test_stop_button_stops_the_bill(app, sselab_check):
        report = sselab_check(app.url + "/api/chat", only=["abort", "progressive"])
        assert report.ok, report.summary()

    @pytest.mark.sselab(scenario="mid-stream-error")
    def test_error_reaches_the_page(app, sselab_simulator):
        ...  # every upstream call now fails after 40 tokens
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import pytest

from .api import Simulator, SimulatorThread
from .errors import ConfigError
from .record.pytest_cassette import MARKER as CASSETTE_MARKER
from .record.pytest_cassette import pytest_addoption, sselab_cassette  # noqa: F401 (registered)

try:
    import pytest_asyncio

    _async_fixture: Callable[..., Any] = pytest_asyncio.fixture
except ImportError:  # pragma: no cover - pytest-asyncio is a test dependency
    _async_fixture = pytest.fixture

MARKER = ("sselab(scenario=None, scenarios=(), max_stall=None): configure sselab's simulator "
          "fixtures: the default scenario, extra scenarios as YAML text, the max stall")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    config.addinivalue_line("markers", CASSETTE_MARKER)


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("sselab")
    if marker is None:
        return {}
    allowed = {"scenario", "scenarios", "max_stall"}
    unknown = set(marker.kwargs) - allowed
    if unknown or marker.args:
        raise ConfigError(f"@pytest.mark.sselab: unknown argument(s) "
                          f"{', '.join(sorted(unknown)) or 'positional'}; use "
                          f"{', '.join(sorted(allowed))}")
    return dict(marker.kwargs)


def _configure(sim: Simulator | SimulatorThread, options: dict[str, Any]) -> None:
    scenarios: Iterable[str] = options.get("scenarios") or ()
    if isinstance(scenarios, str):
        scenarios = [scenarios]
    for text in scenarios:
        sim.add_scenario(text)
    if options.get("scenario"):
        sim.set_default_scenario(options["scenario"])


def _sim_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    return {"max_stall": options["max_stall"]} if options.get("max_stall") else {}


@pytest.fixture
def sselab_simulator(request: pytest.FixtureRequest) -> Iterator[SimulatorThread]:
    """The simulator on a free port of 127.0.0.1, in its own thread (sync or async tests)."""
    options = _marker_options(request)
    with SimulatorThread(**_sim_kwargs(options)) as sim:
        _configure(sim, options)
        yield sim


@_async_fixture
async def sselab_simulator_async(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """The simulator on the test's event loop (async tests only)."""
    options = _marker_options(request)
    async with Simulator(**_sim_kwargs(options)) as sim:
        _configure(sim, options)
        yield sim


@pytest.fixture
def sselab_toxiproxy() -> Iterator[Any]:
    """A ``toxiproxy.Toxiproxy`` client; every proxy is removed afterwards. Uses
    ``TOXIPROXY_URL`` or a ``toxiproxy-server`` on PATH when there is one, else sselab's own
    Toxiproxy-compatible server."""
    pytest.importorskip("toxiproxy", reason="sselab_toxiproxy needs toxiproxy-python")
    from .toxiproxy.testing import toxiproxy_client

    with toxiproxy_client() as client:
        yield client


@pytest.fixture
def sselab_buffering_proxy() -> Iterator[Callable[..., Any]]:
    """Factory: ``proxy = sselab_buffering_proxy("nginx", "http://127.0.0.1:8000")``; request
    ``proxy.url + path``. Profiles: ``sselab.buffering.profiles()``."""
    from .buffering import SyncBufferingProxy

    started: list[SyncBufferingProxy] = []

    def make(profile: str = "nginx", upstream_url: str = "", **options: Any) -> Any:
        proxy = SyncBufferingProxy(profile, upstream_url, **options)
        proxy.start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in reversed(started):
        proxy.stop()


class SselabCheck:
    """``sselab_check(endpoint, only=..., **options)`` → :class:`~sselab.check.Report`.

    Options: ``only``, ``skip``, ``method``, ``body`` (JSON-able), ``headers`` (dict or pairs),
    ``extract``, ``simulator`` (default: the ``sselab_simulator`` fixture) and any
    :class:`~sselab.check.Settings` field (``abort_bound=1.0``, ``stall_wait=5``, ...).
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    def _prepare(self, endpoint: str, options: dict[str, Any]) -> tuple[Any, Any, dict]:
        from .check import Settings, Target
        from .check.target import DEFAULT_BODY

        sim = options.pop("sselab", None) or self._request.getfixturevalue("sselab_simulator")
        headers = options.pop("headers", None) or []
        if isinstance(headers, dict):
            headers = list(headers.items())
        target = Target(endpoint, options.pop("method", "POST"),
                        options.pop("body", None) or dict(DEFAULT_BODY), list(headers),
                        options.pop("extract", "auto"))
        run = {"only": options.pop("only", None), "skip": options.pop("skip", ())}
        try:
            settings = Settings(**options)
        except TypeError as exc:
            raise ConfigError(f"sselab_check: {exc}") from None
        return target, sim, {**run, "settings": settings}

    def __call__(self, endpoint: str, **options: Any) -> Any:
        from .check import run_checks_sync

        target, sim, run = self._prepare(endpoint, options)
        return run_checks_sync(target, sim, **run)

    async def arun(self, endpoint: str, **options: Any) -> Any:
        """The same from an async test (the endpoint may run on the test's own loop)."""
        from .check import run_checks

        target, sim, run = self._prepare(endpoint, options)
        return await run_checks(target, sim, **run)

    def assert_passes(self, endpoint: str, **options: Any) -> Any:
        report = self(endpoint, **options)
        assert report.ok, "sselab check failed:\n" + report.summary()
        return report


@pytest.fixture
def sselab_check(request: pytest.FixtureRequest) -> SselabCheck:
    """Run the check battery against your endpoint (see :class:`SselabCheck`)."""
    return SselabCheck(request)
