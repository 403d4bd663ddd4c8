"""The app's surface: request validation, the answer store, the page, settings, ``sselab demo``,
and that the app is self-contained."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from refapp_client import Chat, expected

import sselab_reference_app
from sselab import Simulator, SimulatorThread
from sselab_reference_app import AnswerStore, AppServer, make_config, parse_chat
from sselab_reference_app.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("raw", "field"), [
    (b"not json", "body"),
    (b"[]", "body"),
    (b"{}", "messages"),
    (b'{"messages": []}', "messages"),
    (b'{"messages": [{"role": "robot", "content": "x"}]}', "messages[0].role"),
    (b'{"messages": [{"role": "user", "content": "a"}, {"role": "user"}]}',
     "messages[1].content"),
    (b'{"messages": [{"role": "user", "content": "x"}], "model": 7}', "model"),
])
async def test_bad_request_names_the_field(app: AppServer, http: aiohttp.ClientSession,
                                           raw: bytes, field: str) -> None:
    async with http.post(app.url + "/api/chat", data=raw,
                         headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert error["field"] == field and error["message"]
    assert len(app.store) == 0


def test_parse_chat_defaults_and_prompt_shorthand() -> None:
    req = parse_chat(b'{"prompt": "hi"}', "gpt-4o-mini")
    assert req.model == "gpt-4o-mini"
    assert req.messages == [{"role": "user", "content": "hi"}]
    req = parse_chat(b'{"messages": [{"role": "user", "content": "x", "extra": 1}], '
                     b'"model": "long-answer"}', "m")
    assert req.model == "long-answer" and req.messages == [{"role": "user", "content": "x"}]


async def test_answer_store_over_http(sim: Simulator, app: AppServer, chat: Chat,
                                      http: aiohttp.ClientSession) -> None:
    got = await chat(app, "cr-line-endings")
    answer_id = got.headers["X-Answer-Id"]
    async with http.get(f"{app.url}/api/answers/{answer_id}") as resp:
        stored = await resp.json()
    assert stored["state"] == "completed" and stored["finish_reason"] == "stop"
    assert stored["text"] == expected(sim, "cr-line-endings")
    assert stored["messages"] == [{"role": "user", "content": "hi"}]
    async with http.get(app.url + "/api/answers") as resp:
        assert [a["id"] for a in (await resp.json())["answers"]] == [answer_id]
    async with http.get(app.url + "/api/answers/nope") as resp:
        assert resp.status == 404
    async with http.post(f"{app.url}/api/answers/{answer_id}") as resp:
        assert resp.status == 405  # read-only


def test_answer_states_and_limit() -> None:
    store = AnswerStore(limit=2)
    first = store.new("m", [])
    first.append("Hel")
    first.append("lo")
    first.finish("stopped")
    first.finish("completed")  # the first final state wins
    first.append("late")
    assert (first.state, first.text, first.tokens) == ("stopped", "Hello", 2)
    with pytest.raises(ValueError, match="state must be one of"):
        store.new("m", []).finish("streaming")
    store.new("m", [])
    assert store.get(first.id) is None and len(store) == 2


async def test_page_and_static_files(app: AppServer, http: aiohttp.ClientSession) -> None:
    async with http.get(app.url + "/") as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        html = await resp.text()
    for needle in ('id="messages"', 'id="prompt"', 'id="send"', 'id="stop"', 'id="regenerate"',
                   'aria-live="polite"', "/static/app.js", "/static/style.css"):
        assert needle in html
    async with http.get(app.url + "/static/app.js") as resp:
        assert resp.status == 200 and "javascript" in resp.content_type
        script = await resp.text()
    assert "getReader()" in script and "AbortController" in script and "TextDecoder" in script
    async with http.get(app.url + "/api/config") as resp:
        assert (await resp.json())["model"] == "gpt-4o-mini"


def test_settings_from_environment_and_errors() -> None:
    config = make_config(env={"OPENAI_BASE_URL": "https://example.test/v1",
                              "OPENAI_API_KEY": "sk-x", "REFERENCE_MODEL": "m",
                              "REFERENCE_IDLE_TIMEOUT": "0", "REFERENCE_KEEPALIVE_INTERVAL": "2"})
    assert (config.upstream_base_url, config.api_key, config.model) == (
        "https://example.test/v1", "sk-x", "m")
    assert config.idle_timeout is None and config.keepalive_interval == 2.0
    assert make_config(idle_timeout=3, env={"REFERENCE_IDLE_TIMEOUT": "9"}).idle_timeout == 3
    with pytest.raises(ConfigError, match=r"REFERENCE_IDLE_TIMEOUT\) must be a number"):
        make_config(env={"REFERENCE_IDLE_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match="REFERENCE_KEEPALIVE_INTERVAL"):
        make_config(env={"REFERENCE_KEEPALIVE_INTERVAL": "0"})
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        make_config(env={"OPENAI_BASE_URL": "localhost:8787"})


def test_app_never_imports_the_simulator() -> None:
    code = ("import sys, sselab_reference_app, sselab_reference_app.app, "
            "sselab_reference_app.runner; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sselab'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"
    for path in Path(sselab_reference_app.__file__).parent.glob("*.py"):
        if path.name != "cli.py":  # sselab's demo glue
            source = path.read_text(encoding="utf-8")
            assert "import sselab" not in source and "from sselab" not in source, path


def test_public_api() -> None:
    assert sorted(sselab_reference_app.__all__) == sorted(
        name for name in dir(sselab_reference_app) if name in sselab_reference_app.__all__)
    assert {"create_app", "AppServer", "AppThread", "Flags"} <= set(sselab_reference_app.__all__)


def test_demo_command_serves_the_chat_until_interrupted() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from sselab_reference_app.cli import demo_command; demo_command()",
         "--port", "0", "--idle-timeout", "3"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("sselab demo: open http://127.0.0.1:"), first
        url = first.split("open ", 1)[1].strip()
        with urllib.request.urlopen(url, timeout=10) as resp:  # the lab around the chat
            assert b'<label for="scenario">Scenario</label>' in resp.read()
        with urllib.request.urlopen(url + "chat/", timeout=10) as resp:  # the chat itself
            assert b'id="messages"' in resp.read()
        request = urllib.request.Request(
            url + "api/chat", data=json.dumps({"prompt": "hi", "model": "default"}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert b"event: done" in resp.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert "sselab demo stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_demo_reports_a_busy_port() -> None:
    with AppServerPortHolder() as port:
        proc = subprocess.run(
            [sys.executable, "-c",
             "from sselab_reference_app.cli import demo_command; demo_command()",
             "--port", str(port)], cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


class AppServerPortHolder:
    """A listening socket on a free port, for the duration."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_demo_refuses_an_unknown_scenario_in_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from sselab.cli import main; main()", "demo", "--model",
         "mid-stream-eror"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert proc.stderr.startswith("sselab: unknown scenario 'mid-stream-eror'"), proc.stderr
    assert "mid-stream-error" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_is_plugged_into_sselab() -> None:
    out = subprocess.run([sys.executable, "-m", "sselab", "demo", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60).stdout
    assert "reference chat app" in out


def test_python_m_reference_app_runs_from_the_environment() -> None:
    with SimulatorThread() as sim:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_BASE_URL": sim.base_url + "/v1",
               "OPENAI_API_KEY": "sk-test", "REFERENCE_MODEL": "unicode"}
        proc = subprocess.Popen([sys.executable, "-m", "sselab_reference_app", "--port", "0"],
                                cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("reference app on http://127.0.0.1:"), line
            url = line.split()[3]
            request = urllib.request.Request(url + "api/chat", data=b'{"prompt": "hi"}',
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as resp:
                assert b"event: done" in resp.read()
            assert sim.last is not None and sim.last.scenario == "unicode"
            proc.send_signal(signal.SIGINT)
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()


def test_python_m_reference_app_reports_bad_settings() -> None:
    proc = subprocess.run([sys.executable, "-m", "sselab_reference_app", "--port", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT),
                               "REFERENCE_IDLE_TIMEOUT": "soon"})
    assert proc.returncode == 2 and "REFERENCE_IDLE_TIMEOUT" in proc.stderr
    assert "Traceback" not in proc.stderr
