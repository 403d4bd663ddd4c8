"""The backend when things go wrong: the browser leaves, the provider fails or stalls."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from refapp_client import AppFactory, Chat, body, expected, read_events

from sselab import Simulator
from sselab_reference_app import AppServer
from sselab_reference_app.app import STATE


@pytest.mark.parametrize("scenario", ["long-answer", "stall-forever"])
async def test_client_disconnect_aborts_upstream_after_the_resume_grace(
        sim: Simulator, app: AppServer, http: aiohttp.ClientSession, scenario: str) -> None:
    grace = app.app[STATE].config.resume_grace  # the browser may come back meanwhile
    resp = await http.post(app.url + "/api/chat", json=body(scenario))
    got = await read_events(resp, stop_after_tokens=5)
    if scenario == "stall-forever":
        await asyncio.sleep(0.3)  # well into the stall
    upstream = sim.last
    assert upstream is not None and upstream.outcome == "in_progress"
    left = time.time()
    resp.close()  # the browser goes away
    record = await sim.wait_for(lambda r: r.id == upstream.id and r.done, timeout=5)
    assert record.outcome == "client_disconnected"
    assert record.client_disconnected_at is not None
    assert grace - 0.05 <= record.client_disconnected_at - left < grace + 0.5
    answer = app.store.get(got.last("start")["answer_id"])
    assert answer is not None
    for _ in range(100):
        if answer.done:
            break
        await asyncio.sleep(0.01)
    assert answer.state == "stopped"
    assert answer.text.startswith(got.text) and expected(sim, scenario).startswith(answer.text)


@pytest.mark.parametrize("scenario", ["long-answer", "stall-forever"])
async def test_stop_aborts_upstream_at_once(sim: Simulator, app: AppServer,
                                            http: aiohttp.ClientSession, scenario: str) -> None:
    resp = await http.post(app.url + "/api/chat", json=body(scenario))
    got = await read_events(resp, stop_after_tokens=5)
    answer_id = got.last("start")["answer_id"]
    left = time.time()
    resp.close()
    async with http.post(f"{app.url}/api/answers/{answer_id}/stop") as stopped:
        assert (stopped.status, await stopped.json()) == (200, {"id": answer_id,
                                                                "state": "stopped"})
    record = await sim.wait_for(lambda r: r.done, timeout=5)
    assert record.outcome == "client_disconnected"
    assert record.client_disconnected_at is not None
    assert record.client_disconnected_at - left < 0.5
    async with http.post(f"{app.url}/api/answers/nope/stop") as unknown:
        assert unknown.status == 404


async def test_mid_stream_error_comes_after_the_tokens(sim: Simulator, app: AppServer,
                                                       chat: Chat) -> None:
    got = await chat(app, "mid-stream-error")
    assert got.types[-1] == "error" and "done" not in got.types
    assert got.types.count("token") == 40
    assert got.text == expected(sim, "mid-stream-error")
    error = got.last("error")
    assert error["kind"] == "upstream_error" and "Overloaded" in error["message"]
    answer = app.store.get(error["answer_id"])
    assert answer is not None and answer.state == "failed" and answer.text == got.text
    assert answer.error is not None and answer.error["kind"] == "upstream_error"


@pytest.mark.parametrize(("scenario", "kind"), [
    ("drop-mid-stream", "upstream_disconnected"),
    ("reset-mid-stream", "upstream_disconnected"),
    ("malformed-json", "upstream_protocol"),
])
async def test_broken_upstream_streams_end_in_an_error(sim: Simulator, app: AppServer,
                                                       chat: Chat, scenario: str,
                                                       kind: str) -> None:
    got = await chat(app, scenario)
    assert got.types[-1] == "error" and got.last("error")["kind"] == kind
    assert got.text and expected(sim, scenario).startswith(got.text)
    assert app.store.all()[-1].state == "failed"


async def test_http_error_before_the_stream(sim: Simulator, app: AppServer, chat: Chat) -> None:
    got = await chat(app, "http-429")
    assert got.status == 200 and got.types == ["start", "error"]
    error = got.last("error")
    assert error["kind"] == "upstream_http" and error["status"] == 429
    assert error["retry_after"] == "2" and "429" in error["message"]


async def test_unreachable_upstream(app_factory: AppFactory, chat: Chat) -> None:
    dead = await app_factory(upstream_base_url=f"http://127.0.0.1:{await _closed_port()}/v1")
    got = await chat(dead)
    assert got.types == ["start", "error"]
    assert got.last("error")["kind"] == "upstream_unreachable"


async def _closed_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


async def test_idle_timeout_fails_the_answer_and_closes_upstream(
        sim: Simulator, app_factory: AppFactory, chat: Chat) -> None:
    server = await app_factory(idle_timeout=0.5, keepalive_interval=0.15)
    got = await chat(server, "stall-forever")
    assert got.text == expected(sim, "stall-forever")
    assert got.types[-1] == "error" and got.last("error")["kind"] == "timeout"
    waited = got.times("error")[0] - got.times("token")[-1]
    assert 0.45 <= waited <= 2.0, waited
    assert got.comments >= 2, "no keep-alive comments while the upstream was silent"
    record = await sim.wait_for(lambda r: r.scenario == "stall-forever" and r.done, timeout=2)
    assert record.outcome == "client_disconnected"
    assert server.store.all()[-1].state == "failed"


async def test_keepalives_while_upstream_is_silent(sim: Simulator, app_factory: AppFactory,
                                                   chat: Chat) -> None:
    server = await app_factory(idle_timeout=1.0, keepalive_interval=0.1)
    got = await chat(server, "stall-keepalive")  # the upstream's own pings do not count
    assert got.last("error")["kind"] == "timeout"
    assert got.raw.count(b": keep-alive\n\n") >= 4




async def test_a_bug_in_the_app_ends_the_stream_with_an_error(
        sim: Simulator, app: AppServer, chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    import sselab_reference_app.relay

    def broken(event: object) -> None:
        raise KeyError("oops")

    monkeypatch.setattr(sselab_reference_app.relay, "interpret", broken)
    got = await chat(app, "default")
    assert got.types == ["start", "error"] and got.last("error")["kind"] == "internal"
    assert app.store.all()[-1].state == "failed"
    record = await sim.wait_for(timeout=2)
    assert record.outcome == "client_disconnected"  # the upstream was closed, not left open
