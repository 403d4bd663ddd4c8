"""Dropped connections the reference app survives: the browser's (it reconnects with
``Last-Event-ID`` and gets the rest from the app's buffer of the live answer) and the
provider's (in Responses background mode the app resumes the provider's stream)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import httpx
from refapp_client import AppFactory, Chat, body, expected, read_events

from sselab import Simulator
from sselab_reference_app import AppServer

DROP_UPSTREAM = """
name: upstream-drop
response: {faker: {seed: 61, words: 40}}
timing: {ttft_ms: 50, token_ms: 20}
faults:
  - {type: drop, at_token: 12, resumable: true}
"""


def ids(got: object) -> list[str]:
    return [line.split(b": ", 1)[1].decode() for line in got.raw.split(b"\n")  # type: ignore[attr-defined]
            if line.startswith(b"id: ")]


async def cut_after(http: aiohttp.ClientSession, server: AppServer, model: str, tokens: int,
                    **kwargs: object):
    resp = await http.post(server.url + "/api/chat", json=body(model), **kwargs)  # type: ignore[arg-type]
    got = await read_events(resp, stop_after_tokens=tokens)
    resp.close()  # the connection drops
    return got


async def test_every_event_carries_answer_id_and_number(sim: Simulator, app: AppServer,
                                                        chat: Chat) -> None:
    got = await chat(app, "default")
    answer_id = got.last("start")["answer_id"]
    assert ids(got) == [f"{answer_id}:{n}" for n in range(len(got.events))]


async def test_reconnect_with_last_event_id_gets_the_rest_exactly_once(
        sim: Simulator, app: AppServer, http: aiohttp.ClientSession) -> None:
    first = await cut_after(http, app, "long-answer", 8)
    last = ids(first)[-1]
    await asyncio.sleep(0.3)  # the answer goes on meanwhile
    async with http.post(app.url + "/api/chat", json=body("long-answer"),
                         headers={"Last-Event-ID": last}) as resp:
        rest = await read_events(resp)
    assert rest.status == 200 and rest.types[-1] == "done" and "start" not in rest.types
    assert first.text + rest.text == expected(sim, "long-answer")
    numbers = [int(i.rsplit(":", 1)[1]) for i in ids(first) + ids(rest)]
    assert numbers == list(range(len(numbers)))  # nothing lost, nothing twice
    assert len(sim.requests) == 1 and sim.requests[0].outcome == "completed"  # one provider call


async def test_a_late_reconnect_gets_what_was_generated_and_a_stopped_error(
        sim: Simulator, app_factory: AppFactory, http: aiohttp.ClientSession) -> None:
    server = await app_factory(resume_grace=0.2)
    first = await cut_after(http, server, "long-answer", 5)
    record = await sim.wait_for(lambda r: r.done, timeout=5)
    assert record.outcome == "client_disconnected"  # stopped after the grace
    async with http.post(server.url + "/api/chat", headers={"Last-Event-ID": ids(first)[-1]},
                         json=body()) as resp:
        rest = await read_events(resp)
    assert rest.types[-1] == "error" and rest.last("error")["kind"] == "stopped"
    stored = server.store.get(first.last("start")["answer_id"])
    assert stored is not None and stored.state == "stopped"
    assert first.text + rest.text == stored.text
    assert expected(sim, "long-answer").startswith(stored.text)


async def test_resuming_a_finished_answer_sends_only_its_end(sim: Simulator, app: AppServer,
                                                             chat: Chat) -> None:
    got = await chat(app, "default")
    async with httpx.AsyncClient() as c:
        r = await c.post(app.url + "/api/chat", headers={"Last-Event-ID": ids(got)[-2]},
                         json=body())
        unknown = await c.post(app.url + "/api/chat", headers={"Last-Event-ID": "ans_x:3"},
                               json=body())
    assert r.text.startswith("event: done\nid: ") and r.text.count("event:") == 1
    assert unknown.status_code == 404
    assert unknown.json()["error"]["field"] == "Last-Event-ID"


async def test_no_resume_restarts_the_answer_on_reconnect(
        sim: Simulator, app_factory: AppFactory, http: aiohttp.ClientSession) -> None:
    server = await app_factory(flags=["no_resume"])
    first = await cut_after(http, server, "long-answer", 5)
    async with http.post(server.url + "/api/chat", json=body("long-answer"),
                         headers={"Last-Event-ID": ids(first)[-1]}) as resp:
        again = await read_events(resp)
    assert again.types[0] == "start" and again.text == expected(sim, "long-answer")
    assert again.last("start")["answer_id"] != first.last("start")["answer_id"]
    assert len(sim.requests) == 2  # the provider is paid twice


# --- the provider's connection drops ----------------------------------------------------------
async def test_responses_mode_resumes_a_dropped_provider_stream(
        sim: Simulator, app_factory: AppFactory, chat: Chat) -> None:
    sim.add_scenario(DROP_UPSTREAM)
    server = await app_factory(upstream_api="responses")
    got = await chat(server, "upstream-drop")
    assert got.types[-1] == "done" and got.text == expected(sim, "upstream-drop")
    created, resumed = sim.requests
    assert created.path == "/v1/responses" and created.outcome == "fault_reset"
    assert resumed.resumes == created.id and resumed.method == "GET"
    assert resumed.outcome == "completed"  # and no cancel: the response ended by itself


async def test_responses_mode_stop_cancels_the_background_response(
        sim: Simulator, app_factory: AppFactory, http: aiohttp.ClientSession) -> None:
    server = await app_factory(upstream_api="responses")
    first = await cut_after(http, server, "long-answer", 5)
    answer_id = first.last("start")["answer_id"]
    async with http.post(f"{server.url}/api/answers/{answer_id}/stop") as r:
        assert (await r.json())["state"] == "stopped"
    deadline = time.monotonic() + 5
    cancel = None
    while cancel is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        cancel = next((r for r in sim.requests if r.path.endswith("/cancel")), None)
    assert cancel is not None and cancel.resumes == sim.requests[0].id
    async with http.get(sim.url("/_sselab/live")) as r:
        assert [s["state"] for s in (await r.json())["live"]] == ["cancelled"]


async def test_responses_mode_retries_a_failed_resume(sim: Simulator, app_factory: AppFactory,
                                                      chat: Chat) -> None:
    sim.add_scenario(DROP_UPSTREAM.replace("faults:", "faults:\n  - {type: resume_error, "
                                                      "status: 503, times: 1}"))
    server = await app_factory(upstream_api="responses")
    got = await chat(server, "upstream-drop")
    assert got.text == expected(sim, "upstream-drop") and got.types[-1] == "done"
    assert [r.status for r in sim.requests[1:]] == [503, 200]


async def test_responses_mode_reports_a_stream_that_cannot_be_resumed(
        sim: Simulator, app_factory: AppFactory, chat: Chat) -> None:
    sim.add_scenario(DROP_UPSTREAM.replace("faults:", "faults:\n  - {type: expire, "
                                                      "after_ms: 10}"))
    server = await app_factory(upstream_api="responses")
    got = await chat(server, "upstream-drop")
    assert got.types[-1] == "error" and got.last("error")["status"] == 404
    assert expected(sim, "upstream-drop").startswith(got.text) and got.text
