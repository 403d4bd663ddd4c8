"""Resumable streams in the simulator: plain SSE ids and Last-Event-ID, the UI stream's resume
route, the live registry, and the faults drop / resume_error / expire (over real sockets).

The EventSource-like client here does what the WHATWG spec says a browser does: it remembers
the last event id, waits the ``retry:`` delay after the body ends or breaks, and reconnects
with ``Last-Event-ID``; it stops on a 204 or any other non-200 answer.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from sselab import Simulator, compile_scenario
from sselab.scenario import load_text
from sselab.sse_parse import SSEDecoder, SSEEvent, parse

RESUMABLE = """
name: resumable
response: {text: "one two three four five six seven eight nine ten eleven twelve"}
timing: {ttft_ms: 40, token_ms: 30}
resume: {retry_ms: 100}
faults:
  - {type: drop, at_token: 4, resumable: true}
"""
UI_BODY = {"id": "chat-7", "trigger": "submit-message",
           "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]}


def full_text(sim: Simulator, name: str) -> str:
    return compile_scenario(sim.scenarios[name]).text


def tokens(events: list[SSEEvent]) -> str:
    return "".join(json.loads(e.data)["text"] for e in events if e.event == "token")


async def read_events(client: httpx.AsyncClient, method: str, url: str,
                      **kwargs: object) -> tuple[int, list[SSEEvent], str | None]:
    """(status, complete events, how the body ended: None or the exception's name)."""
    decoder, events, broke = SSEDecoder(), [], None
    try:
        async with client.stream(method, url, **kwargs) as r:  # type: ignore[arg-type]
            async for chunk in r.aiter_raw():
                events += decoder.feed(chunk)
            status = r.status_code
    except httpx.TransportError as exc:
        status, broke = 200, type(exc).__name__
    return status, events, broke


async def event_source(client: httpx.AsyncClient, url: str, limit: int = 6,
                       ) -> tuple[list[SSEEvent], list[int]]:
    """Read ``url`` the way a browser's EventSource does; (every event, each status)."""
    last, retry, got, statuses = "", 3000, [], []
    for _ in range(limit):
        headers = {"Last-Event-ID": last} if last else {}
        status, events, _ = await read_events(client, "GET", url, headers=headers)
        statuses.append(status)
        got += events
        for e in events:
            last = e.id if e.id is not None else last
            retry = e.retry if e.retry is not None else retry
        if status != 200 or any(e.event in ("done", "error") for e in events):
            break
        await asyncio.sleep(retry / 1000)
    return got, statuses


async def test_get_sse_events_carry_stream_ids_and_retry(sim: Simulator) -> None:
    sim.add_scenario(RESUMABLE.replace("resumable: true", "resumable: false"))
    async with httpx.AsyncClient() as c:
        status, events, broke = await read_events(c, "GET", sim.url("/sse?scenario=resumable"))
        post = (await c.post(sim.url("/sse"), json={"model": "default"})).content
    sid = json.loads(events[0].data)["id"]
    assert status == 200 and broke is not None  # the drop resets
    assert [e.id for e in events] == [f"{sid}:{n}" for n in range(len(events))]
    assert events[0].retry == 100 and len(events) == 5  # start + 4 tokens
    assert b"id:" not in post and b"retry:" not in post  # POST /sse: no ids unless asked


async def test_event_source_resumes_after_a_resumable_drop_exactly_once(sim: Simulator) -> None:
    sim.add_scenario(RESUMABLE)
    async with httpx.AsyncClient() as c:
        events, statuses = await event_source(c, sim.url("/sse?scenario=resumable"))
        again = await c.get(sim.url("/sse?scenario=resumable"),
                            headers={"Last-Event-ID": events[-1].id or ""})
    assert statuses == [200, 200]
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids))  # nothing twice
    assert tokens(events) == full_text(sim, "resumable") and events[-1].event == "done"
    assert again.status_code == 204  # finished: EventSource stops reconnecting
    first, resumed, done = sim.requests
    assert (first.outcome, first.resumes) == ("fault_reset", None)
    assert (resumed.resumes, resumed.outcome) == (first.id, "completed")
    assert 1 <= resumed.replayed_events <= 9  # generated while nobody was attached
    assert (done.status, done.resumes) == (204, first.id)


async def test_the_stream_generates_while_no_client_is_attached(sim: Simulator) -> None:
    sim.add_scenario(RESUMABLE)
    async with httpx.AsyncClient() as c:
        _, events, _ = await read_events(c, "GET", sim.url("/sse?scenario=resumable"))
        await asyncio.sleep(0.6)  # past the end of the answer
        t0 = time.monotonic()
        status, rest, broke = await read_events(
            c, "GET", sim.url("/sse?scenario=resumable"), headers={"Last-Event-ID": events[-1].id})
        took = time.monotonic() - t0
        live = (await c.get(sim.url("/_sselab/live"))).json()["live"]
    assert status == 200 and broke is None and took < 0.3  # all of it at once: already generated
    assert tokens(events + rest) == full_text(sim, "resumable")
    assert sim.last is not None and sim.last.replayed_events == len(rest)
    assert live[0]["state"] == "finished" and live[0]["resumed_by"] == [sim.last.id]


async def test_post_sse_opts_in_and_resumes_with_last_event_id(sim: Simulator) -> None:
    sim.add_scenario(RESUMABLE.replace("resume: {", "resume: {event_ids: true, "))
    async with httpx.AsyncClient() as c:
        _, events, broke = await read_events(c, "POST", sim.url("/sse"),
                                             json={"model": "resumable"})
        _, rest, _ = await read_events(c, "POST", sim.url("/sse"), json={"model": "resumable"},
                                       headers={"Last-Event-ID": events[-1].id})
    assert broke is not None and events[-1].id.endswith(":4")
    assert tokens(events + rest) == full_text(sim, "resumable")
    assert sim.requests[1].resumes == sim.requests[0].id


@pytest.mark.parametrize(("last", "status", "words"), [
    ("17", 400, "not an event id"), ("sse-nope:3", 404, "no stream 'sse-nope'"),
])
async def test_bad_and_unknown_ids_get_a_clear_4xx(sim: Simulator, last: str, status: int,
                                                   words: str) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.get(sim.url("/sse"), headers={"Last-Event-ID": last})
    assert r.status_code == status and words in r.json()["error"]["message"]
    assert sim.last is not None and sim.last.outcome == "http_error"


async def test_an_event_the_stream_never_had_is_a_400(sim: Simulator) -> None:
    sim.add_scenario(RESUMABLE)
    async with httpx.AsyncClient() as c:
        _, events, _ = await read_events(c, "GET", sim.url("/sse?scenario=resumable"))
        sid = events[0].id.split(":")[0]
        r = await c.get(sim.url("/sse"), headers={"Last-Event-ID": f"{sid}:999"})
    assert r.status_code == 400 and "has no event 999" in r.json()["error"]["message"]


# --- faults -----------------------------------------------------------------------------------
async def test_drop_without_resumable_is_a_reset_and_ends_the_stream(sim: Simulator) -> None:
    sim.add_scenario(RESUMABLE.replace("resumable: true", "resumable: false"))
    async with httpx.AsyncClient() as c:
        _, events, broke = await read_events(c, "GET", sim.url("/sse?scenario=resumable"))
        r = await c.get(sim.url("/sse"), headers={"Last-Event-ID": events[-1].id})
    assert broke is not None and sim.requests[0].outcome == "fault_reset"
    assert r.status_code == 204  # the stream ended there: nothing to resume
    plan = compile_scenario(sim.scenarios["resumable"])
    assert plan.text == full_text(sim, "resumable")
    assert [type(t.event).__name__ for t in plan.events][-1] == "Reset"


async def test_drop_how_close_is_a_fin_and_the_stream_lives_on(sim: Simulator) -> None:
    sim.add_scenario(RESUMABLE.replace("resumable: true", "resumable: true, how: close"))
    async with httpx.AsyncClient() as c:
        events, statuses = await event_source(c, sim.url("/sse?scenario=resumable"))
    assert sim.requests[0].outcome == "fault_closed" and statuses == [200, 200]
    assert tokens(events) == full_text(sim, "resumable")


async def test_resumable_drop_in_a_format_without_resume_just_breaks(sim: Simulator) -> None:
    sim.add_scenario(RESUMABLE)
    body = {"model": "resumable", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    async with httpx.AsyncClient() as c:
        _, events, broke = await read_events(c, "POST", sim.url("/v1/chat/completions"),
                                             json=body)
        live = (await c.get(sim.url("/_sselab/live"))).json()["live"]
    assert broke is not None and sim.requests[0].outcome == "fault_reset"
    assert len([e for e in events if e.data != "[DONE]"]) == 5 and live == []


async def test_resume_error_fails_the_first_resume_then_one_succeeds(sim: Simulator) -> None:
    sim.add_scenario(RESUMABLE.replace("faults:", "faults:\n  - {type: resume_error, status: 503, "
                                                 "times: 1, message: try later}"))
    async with httpx.AsyncClient() as c:
        _, events, _ = await read_events(c, "GET", sim.url("/sse?scenario=resumable"))
        headers = {"Last-Event-ID": events[-1].id}
        failed = await c.get(sim.url("/sse"), headers=headers)
        _, rest, _ = await read_events(c, "GET", sim.url("/sse"), headers=headers)
    assert failed.status_code == 503 and failed.json()["error"]["message"] == "try later"
    assert tokens(events + rest) == full_text(sim, "resumable")
    assert [r.resumes for r in sim.requests[1:]] == [sim.requests[0].id] * 2
    assert sim.requests[1].outcome == "http_error"


async def test_resume_error_times_zero_fails_every_resume(sim: Simulator) -> None:
    sim.add_scenario(RESUMABLE.replace("faults:", "faults:\n  - {type: resume_error, status: 500, "
                                                 "times: 0}"))
    async with httpx.AsyncClient() as c:
        _, events, _ = await read_events(c, "GET", sim.url("/sse?scenario=resumable"))
        codes = [(await c.get(sim.url("/sse"), headers={"Last-Event-ID": events[-1].id}))
                 .status_code for _ in range(3)]
    assert codes == [500, 500, 500]


async def test_expire_makes_every_resume_route_answer_gone(sim: Simulator) -> None:
    sim.add_scenario(RESUMABLE.replace("faults:", "faults:\n  - {type: expire, after_ms: 150}"))
    async with httpx.AsyncClient() as c:
        _, events, _ = await read_events(c, "GET", sim.url("/sse?scenario=resumable"))
        await asyncio.sleep(0.2)
        sse = await c.get(sim.url("/sse"), headers={"Last-Event-ID": events[-1].id})
        await read_events(c, "POST", sim.url("/ui/chat"), json={**UI_BODY, "model": "resumable"})
        await asyncio.sleep(0.2)
        ui = await c.get(sim.url("/ui/chat/chat-7/stream"))
        created = (await c.post(sim.url("/v1/responses"), json={
            "model": "resumable", "input": "x", "background": True})).json()
        await asyncio.sleep(0.2)
        resp = await c.get(sim.url(f"/v1/responses/{created['id']}"))
        live = (await c.get(sim.url("/_sselab/live"))).json()["live"]
    assert sse.status_code == 410 and "expired" in sse.json()["error"]["message"]
    assert ui.status_code == 204
    assert resp.status_code == 404 and created["status"] == "queued"
    assert {s["state"] for s in live} == {"expired"}


def test_fault_values_are_checked_with_file_line_and_field() -> None:
    bad = [("{type: resume_error, status: 200}", "faults[0].status"),
           ("{type: resume_error, times: -1}", "faults[0].times"),
           ("{type: expire, after_ms: -5}", "faults[0].after_ms"),
           ("{type: drop, at_token: 2, how: sideways}", "faults[0].how"),
           ("{type: expire}", "faults[0]")]
    for fault, where in bad:
        text = f"name: x\nresponse: {{text: a b c}}\nfaults:\n  - {fault}\n"
        with pytest.raises(Exception) as info:
            load_text(text, "bad.yaml")
        message = str(info.value)
        assert "bad.yaml:4" in message and where in message, message
    with pytest.raises(Exception, match="resume.retry_ms"):
        load_text("name: x\nresponse: {text: a}\nresume: {retry_ms: -1}\n", "r.yaml")


def test_a_resumable_drop_is_not_terminal_so_faults_may_follow() -> None:
    scenario = load_text("name: x\nresponse: {text: a b c d e f}\nfaults:\n"
                         "  - {type: drop, at_token: 2, resumable: true}\n"
                         "  - {type: drop, at_token: 4, resumable: true}\n")
    kinds = [type(t.event).__name__ for t in compile_scenario(scenario).events]
    assert kinds.count("Drop") == 2 and kinds.count("TextDelta") == 6


# --- the UI message stream ------------------------------------------------------------------
async def test_ui_chat_stream_replays_the_active_stream_and_204_when_none(sim: Simulator) -> None:
    sim.add_scenario(RESUMABLE)
    async with httpx.AsyncClient() as c:
        none = await c.get(sim.url("/ui/chat/unknown/stream"))
        _, first, broke = await read_events(c, "POST", sim.url("/ui/chat"),
                                            json={**UI_BODY, "model": "resumable"})
        _, replay, _ = await read_events(c, "GET", sim.url("/ui/chat/chat-7/stream"))
        after = await c.get(sim.url("/ui/chat/chat-7/stream"))
    chunks = [json.loads(e.data) for e in replay if e.data != "[DONE]"]
    text = "".join(ch["delta"] for ch in chunks if ch["type"] == "text-delta")
    assert none.status_code == 204 and broke is not None
    assert chunks[0]["type"] == "start" and text == full_text(sim, "resumable")  # from the start
    assert [json.loads(e.data) for e in first] == chunks[:len(first)]
    assert after.status_code == 204  # finished: no active stream
    assert sim.requests[2].resumes == sim.requests[1].id


async def test_ui_chat_without_an_id_is_not_kept(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(sim.url("/ui/chat"), json={"messages": UI_BODY["messages"]})
        live = (await c.get(sim.url("/_sselab/live"))).json()["live"]
    assert r.status_code == 200 and b'"type":"finish"' in r.content and live == []


async def test_non_live_streams_are_byte_identical_to_before(sim: Simulator) -> None:
    """The resume routes hand what is not theirs to the format's own handler unchanged."""
    async with httpx.AsyncClient() as c:
        post = await c.post(sim.url("/sse"), json={"model": "unicode"})
        chat = await c.post(sim.url("/ui/chat"), json={"model": "unicode"})
        bad = await c.post(sim.url("/sse"), content=b"{nope",
                           headers={"content-type": "application/json"})
    assert "".join(json.loads(e.data)["text"] for e in parse([post.content])
                   if e.event == "token") == full_text(sim, "unicode")
    assert chat.status_code == 200 and bad.status_code == 400
    assert [r.outcome for r in sim.requests] == ["completed", "completed", "rejected"]
