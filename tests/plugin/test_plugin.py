"""sselab's pytest plugin, used the way a team would: an example test file run with pytester
(in a subprocess) exercising every fixture, the marker and the ``sselab_check`` helper against
the reference app."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXAMPLE = '''
import asyncio

import httpx
import pytest

from sselab_reference_app import AppServer, AppThread

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False}
MINE = "name: mine\\ndescription: mine\\nresponse: {text: hello from my scenario}\\n"


@pytest.fixture
def app(sselab_simulator):
    """The team's app, pointed at the simulator."""
    with AppThread(upstream_base_url=sselab_simulator.base_url + "/v1", idle_timeout=1.0) as a:
        yield a


def test_sync_simulator(sselab_simulator):
    r = httpx.post(sselab_simulator.base_url + "/v1/chat/completions", json=CHAT)
    assert r.status_code == 200
    assert sselab_simulator.last.outcome == "completed"


@pytest.mark.sselab(scenario="http-429")
def test_marker_sets_the_default_scenario(sselab_simulator):
    r = httpx.post(sselab_simulator.base_url + "/v1/chat/completions", json=CHAT)
    assert r.status_code == 429


@pytest.mark.sselab(scenarios=[MINE], scenario="mine")
async def test_async_simulator_with_a_marker_scenario(sselab_simulator_async):
    async with httpx.AsyncClient() as client:
        r = await client.post(sselab_simulator_async.base_url + "/v1/chat/completions",
                              json=CHAT)
    assert "hello from my scenario" in r.text


def test_toxiproxy_in_front_of_the_simulator(sselab_toxiproxy, sselab_simulator):
    port = sselab_simulator.base_url.rsplit(":", 1)[1]
    proxy = sselab_toxiproxy.create(upstream=f"127.0.0.1:{port}", name="sim",
                                    listen="127.0.0.1:0")
    r = httpx.post(f"http://{proxy.listen}/v1/chat/completions", json=CHAT)
    assert r.status_code == 200 and sselab_simulator.call_count == 1


def test_buffering_proxy(sselab_buffering_proxy, sselab_simulator):
    proxy = sselab_buffering_proxy("passthrough", sselab_simulator.base_url)
    r = httpx.post(proxy.url + "/v1/chat/completions", json=CHAT)
    assert r.status_code == 200 and sselab_simulator.call_count == 1


def test_check_helper_passes_a_good_app(app, sselab_check):
    report = sselab_check(app.url + "/api/chat", only=["headers", "mid-stream-error"])
    assert report.ok, report.summary()


def test_check_helper_catches_a_broken_app(sselab_simulator, sselab_check):
    with AppThread(upstream_base_url=sselab_simulator.base_url + "/v1",
                   flags=["swallow_errors"]) as broken:
        with pytest.raises(AssertionError, match="FAIL  mid-stream-error"):
            sselab_check.assert_passes(broken.url + "/api/chat", only=["mid-stream-error"])


async def test_check_helper_from_an_async_test(sselab_simulator, sselab_check):
    # the app waits resume_grace for a dropped browser before it stops the provider call
    async with AppServer(upstream_base_url=sselab_simulator.base_url + "/v1",
                         resume_grace=0.3) as app:
        report = await sselab_check.arun(app.url + "/api/chat", only=["abort"],
                                         abort_bound=1.0)
    assert report["abort"].verdict == "pass", report.summary()
'''


def plugin_args() -> list[str]:
    """Load the plugin by its entry point when sselab is installed, else by module name."""
    installed = any(ep.value == "sselab.pytest_plugin"
                    for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if installed else ["-p", "sselab.pytest_plugin"]


@pytest.fixture
def example(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = "
                     "function\n")
    return pytester


@pytest.mark.timeout(120)
def test_example_file_uses_every_fixture(example: pytest.Pytester) -> None:
    example.makepyfile(test_team_contract=EXAMPLE)
    result = example.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider", "-q",
                                          timeout=110)
    result.assert_outcomes(passed=8)


def test_marker_is_registered_and_validated(example: pytest.Pytester) -> None:
    example.makepyfile(test_bad_marker='''
import pytest

@pytest.mark.sselab(scenarios="not: [valid")
def test_bad_scenario(sselab_simulator):
    pass

@pytest.mark.sselab(scenaro="typo")
def test_typo(sselab_simulator):
    pass
''')
    result = example.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider",
                                          "--strict-markers", timeout=60)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*ScenarioError*", "*unknown argument(s) scenaro*"])
    markers = example.runpytest_subprocess(*plugin_args(), "--markers", timeout=60)
    markers.stdout.fnmatch_lines(["*@pytest.mark.sselab(scenario=None*"])


def test_pyproject_declares_the_entry_point() -> None:
    text = (ROOT / "pyproject.toml").read_text()  # (tomllib is 3.11+; sselab supports 3.10)
    section = text.split("[project.entry-points.pytest11]", 1)[1].split("\n[", 1)[0]
    assert 'sselab = "sselab.pytest_plugin"' in section.splitlines()
    import sselab.pytest_plugin as plugin

    assert callable(plugin.sselab_check) and callable(plugin.sselab_simulator)
