"""The ``sselab_cassette`` fixture, used the way a team would (pytester, in a subprocess): record
once from an upstream, replay in CI without touching the network, vcrpy's record modes."""

from __future__ import annotations

import importlib.metadata
import socket
from pathlib import Path

import pytest

from sselab import SimulatorThread
from sselab.encoders import formats
from sselab.shaping import faults

# import every fault and format module now: pytester drops modules first imported during a test
# from sys.modules afterwards, and the registries would keep classes whose module is gone
faults(), formats()

ROOT = Path(__file__).resolve().parents[2]

TESTS = '''
import openai
import pytest


def ask(cassette, content):
    client = openai.OpenAI(base_url=cassette.base_url + "/v1", api_key="sk-cassette-KEY-123456",
                           max_retries=0)
    return "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": content}], stream=True)
        if c.choices)


def test_hello(sselab_cassette):
    assert ask(sselab_cassette, "hi").startswith("Hello!")


def test_two_questions(sselab_cassette):
    assert ask(sselab_cassette, "one").startswith("Hello!")
    assert ask(sselab_cassette, QUESTION).startswith("Hello!")
'''


def plugin_args() -> list[str]:
    """The plugin by its entry point when sselab is installed, else by module name (as
    tests/plugin does)."""
    installed = any(ep.value == "sselab.pytest_plugin"
                    for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if installed else ["-p", "sselab.pytest_plugin"]


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_mod=TESTS.replace("QUESTION", '"two"'))

    def run(mode: str, upstream: str, *args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(
            *plugin_args(), "-p", "no:cacheprovider", "-q",
            f"--sselab-record-mode={mode}", f"--sselab-upstream={upstream}", *args, timeout=90)

    return pytester, run


def _cassettes(pytester: pytest.Pytester) -> list[str]:
    directory = Path(pytester.path) / "cassettes" / "test_mod"
    return sorted(p.name for p in directory.glob("*.yaml")) if directory.is_dir() else []


@pytest.mark.timeout(300)
def test_record_modes(suite) -> None:
    pytester, run = suite
    offline = _closed_port()
    # none, nothing recorded yet: each test fails (at set-up), naming the recording it needs
    result = run("none", offline)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*sselab cassette: no recording for test_mod.py::test_hello*"
                                 "cassettes/test_mod/test_hello-*.yaml*--sselab-record-mode=once*"])
    with SimulatorThread() as upstream:
        run("once", upstream.base_url).assert_outcomes(passed=2)
        assert upstream.call_count == 3
        assert _cassettes(pytester) == [
            "test_hello-openai_chat-default-001.yaml",
            "test_two_questions-openai_chat-default-001.yaml",
            "test_two_questions-openai_chat-default-002.yaml"]
        text = "".join((Path(pytester.path) / "cassettes" / "test_mod" / n).read_text()
                       for n in _cassettes(pytester))
        assert "sk-cassette-KEY-123456" not in text
        # once, with recordings: replayed, the upstream is not asked again
        run("once", upstream.base_url).assert_outcomes(passed=2)
        assert upstream.call_count == 3
    # none (CI): replayed with the upstream gone
    run("none", offline).assert_outcomes(passed=2)
    # a question that was never recorded: the test fails on the provider-shaped error
    pytester.makepyfile(test_mod=TESTS.replace("QUESTION", '"three"'))
    result = run("none", offline)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*NotFoundError*no recording matches POST /v1/chat/completions*"
                                 "nearest, test_two_questions-openai_chat-default-00*"])
    with SimulatorThread() as upstream:
        # new_episodes: what matches replays, the new question is recorded
        run("new_episodes", upstream.base_url).assert_outcomes(passed=2)
        assert upstream.call_count == 1
        assert len(_cassettes(pytester)) == 4
        # all: everything recorded again; the old recordings of each test are replaced
        run("all", upstream.base_url).assert_outcomes(passed=2)
        assert upstream.call_count == 1 + 3
        assert len(_cassettes(pytester)) == 3


def test_recording_without_an_upstream_is_a_clear_failure(pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_mod=TESTS.replace("QUESTION", '"two"'))
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider",
                                           "-q", "--sselab-record-mode=once", "-k", "hello",
                                           timeout=60)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*recording test_mod.py::test_hello (once mode) needs an "
                                 "upstream*"])


def test_marker_options(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    with SimulatorThread() as upstream:
        pytester.makepyfile(test_marked=f'''
import httpx
import pytest


@pytest.mark.sselab_cassette(upstream="{upstream.base_url}", directory="tapes",
                             match_on=["method", "path"], record_mode="once")
def test_marked(sselab_cassette):
    r = httpx.post(sselab_cassette.url("/v1/chat/completions"),
                   json={{"model": "default", "messages": [], "stream": True}})
    assert r.status_code == 200 and r.text.endswith("data: [DONE]\\n\\n")
    assert sselab_cassette.mode == "once"


@pytest.mark.sselab_cassette(upstrem="typo")
def test_typo(sselab_cassette):
    pass
''')
        result = pytester.runpytest_subprocess(*plugin_args(), "-p",
                                               "no:cacheprovider", "-q", "--strict-markers",
                                               timeout=60)
        result.assert_outcomes(passed=1, errors=1)
        result.stdout.fnmatch_lines(["*unknown argument(s) upstrem*"])
        (path,) = (Path(pytester.path) / "tapes").glob("test_marked-*.yaml")
        assert "match:\n  - method\n  - path\n" in path.read_text()
