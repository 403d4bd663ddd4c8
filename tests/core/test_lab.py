"""The lab on every simulator: the recorder's events as SSE, one request's timeline picture and
its byte log (the exact bytes the client received), the self-contained page."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from pathlib import Path

import aiohttp
import pytest

from sselab import Simulator
from sselab.encoders import RequestInfo
from sselab.lab.record_view import request_timeline
from sselab.lab.replay import Replay
from sselab.lab.seen import Seen
from sselab.server.recorder import Recorder
from sselab.sse_parse import parse

STATIC = Path(__file__).resolve().parents[2] / "sselab" / "lab" / "static"
MSG = [{"role": "user", "content": "hi"}]
SHORT_STALL = """
name: short-stall
description: 5 tokens, a 1.5 s stall with a keep-alive every 0.3 s, 5 more tokens.
response: {text: "one two three four five six seven eight nine ten"}
tokenize: words
timing: {ttft_ms: 20, token_ms: 10}
faults: [{type: stall, at_token: 5, ms: 1500, keepalive_ms: 300}]
"""
PACED = """
name: paced-1s
description: 20 tokens over a second.
response: {text: "a b c d e f g h i j k l m n o p q r s t"}
tokenize: words
timing: {ttft_ms: 50, token_ms: 50}
"""


def test_recorder_subscribers_hear_new_finish_and_reset() -> None:
    rec = Recorder()
    heard: list[tuple[str, str | None]] = []
    unsubscribe = rec.subscribe(lambda event, r: heard.append((event, r and r.id)))
    first = rec.new("POST", "/v1/chat/completions")
    first.finish("completed")
    first.finish("client_disconnected")  # a record ends once
    rec.reset()
    unsubscribe()
    rec.new("POST", "/x")
    assert heard == [("new", first.id), ("finish", first.id), ("reset", None)]


async def _events(resp: aiohttp.ClientResponse, until: float) -> list[tuple[str, dict]]:
    """The SSE events read until the deadline (monotonic)."""
    out: list[tuple[str, dict]] = []
    buf = b""
    while time.monotonic() < until:
        try:
            chunk = await asyncio.wait_for(resp.content.readany(), until - time.monotonic())
        except asyncio.TimeoutError:
            break
        if not chunk:
            break
        buf += chunk
        *whole, buf = buf.split(b"\n\n")
        for ev in parse([b + b"\n\n" for b in whole]):
            out.append((ev.event, json.loads(ev.data)))
    return out


async def test_feed_shows_a_request_within_a_second_and_its_outcome(sim: Simulator) -> None:
    sim.add_scenario(PACED)
    async with aiohttp.ClientSession() as s:
        async with s.get(sim.url("/_sselab/events")) as feed:
            assert feed.headers["Content-Type"].startswith("text/event-stream")
            first = await _events(feed, time.monotonic() + 1)
            assert first[0] == ("snapshot", {"requests": []})
            started = time.monotonic()
            task = asyncio.ensure_future(s.post(sim.url("/v1/chat/completions"), json={
                "model": "paced-1s", "stream": True, "messages": MSG}))
            seen: dict[str, float] = {}
            got: list[dict] = []
            deadline = started + 5
            while "completed" not in seen and time.monotonic() < deadline:
                for event, data in await _events(feed, min(deadline, time.monotonic() + 0.3)):
                    assert event == "update"
                    for r in data["requests"]:
                        got.append(r)
                        seen.setdefault(r["outcome"], time.monotonic() - started)
            resp = await task
            await resp.read()
    assert seen["in_progress"] < 1.0, seen
    assert "completed" in seen, seen
    assert seen["in_progress"] < seen["completed"]
    progress = [r["bytes_written"] for r in got if r["outcome"] == "in_progress"]
    assert len(progress) >= 3 and progress == sorted(progress)  # it moved on while streaming
    final = got[-1]
    assert final["scenario"] == "paced-1s" and final["ttft_ms"] >= 45


async def test_feed_says_when_the_timeline_was_reset(sim: Simulator) -> None:
    async with aiohttp.ClientSession() as s:
        await (await s.post(sim.url("/v1/chat/completions"), json={
            "model": "default", "stream": True, "messages": MSG})).read()
        async with s.get(sim.url("/_sselab/events")) as feed:
            (event, data), = await _events(feed, time.monotonic() + 0.5)
            assert event == "snapshot" and [r["outcome"] for r in data["requests"]] == [
                "completed"]
            await s.post(sim.url("/_sselab/reset"), json={})
            assert ("reset", {}) in await _events(feed, time.monotonic() + 1)


REQUESTS = [
    ("openai chat, usage chunk", "/v1/chat/completions", "default",
     {"stream": True, "messages": MSG, "stream_options": {"include_usage": True}}),
    ("openai chat, split UTF-8", "/v1/chat/completions", "split-utf8",
     {"stream": True, "messages": MSG}),
    ("openai responses", "/v1/responses", "tool-call", {"stream": True, "input": "hi",
                                                        "instructions": "be brief"}),
    ("anthropic, error event", "/v1/messages", "mid-stream-error",
     {"stream": True, "max_tokens": 50, "messages": MSG}),
    ("gemini", "/v1beta/models/unicode:streamGenerateContent?alt=sse", None,
     {"contents": [{"parts": [{"text": "hi"}]}]}),
    ("bedrock binary", "/model/default/converse-stream", None, {"messages": []}),
    ("not streaming", "/v1/chat/completions", "default", {"stream": False, "messages": MSG}),
    ("http error", "/v1/chat/completions", "http-429", {"stream": True, "messages": MSG}),
]


@pytest.mark.parametrize(("name", "path", "model", "body"), REQUESTS,
                         ids=[r[0] for r in REQUESTS])
async def test_byte_log_is_exactly_what_the_client_received(
        sim: Simulator, name: str, path: str, model: str | None, body: dict) -> None:
    if model:
        body = {**body, "model": model}
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        async with s.post(sim.url(path), json=body) as r:
            raw = await r.read()
            rid = r.headers["X-Sselab-Request-Id"]
        async with s.get(sim.url(f"/_sselab/requests/{rid}/bytes?raw=1")) as r2:
            log = await r2.json()
    assert log["exact"], log["note"]
    assert b"".join(base64.b64decode(p["base64"]) for p in log["pieces"]) == raw
    assert [p["bytes"] for p in log["pieces"]] == [n for _, n, _, _ in sim.recorder.get(
        rid).writes]
    splits = sum(p["split"] for p in log["pieces"])
    if model == "split-utf8":
        assert splits > 100 and log["faults"] == ["split size=3 pause_ms=1"]
        assert any("\\x" in p["text"] for p in log["pieces"])  # a cut character, shown
    else:
        assert splits == 0


async def test_timeline_shows_the_stall_keepalives_and_the_client_leaving(
        sim: Simulator) -> None:
    sim.add_scenario(SHORT_STALL)
    async with aiohttp.ClientSession() as s:
        async with s.post(sim.url("/v1/chat/completions"), json={
                "model": "short-stall", "stream": True, "messages": MSG}) as r:
            rid = r.headers["X-Sselab-Request-Id"]
            deadline = time.monotonic() + 5
            while sim.recorder.get(rid).bytes_written == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.8)  # into the stall, two keep-alives in
            async with s.get(sim.url(f"/_sselab/requests/{rid}/timeline.svg")) as live:
                during = await live.text()
        rec = await sim.wait_for(lambda x: x.id == rid and x.done, timeout=5)
        async with s.get(sim.url(f"/_sselab/requests/{rid}/timeline.svg")) as after:
            assert after.headers["Content-Type"].startswith("image/svg+xml")
            svg = await after.text()
        async with s.get(sim.url(f"/_sselab/requests/{rid}/bytes")) as b:
            log = await b.json()
    assert rec.outcome == "client_disconnected"
    assert '<g class="span stall">' in during and "in_progress" in during
    assert "client went away" not in during
    assert '<g class="span stall">' in svg and "client went away" in svg
    assert re.search(r"stall, keep-alive every 0\.3 s \((\d+) ms\)", svg)
    assert "keep-alives" in svg and "first byte" in svg
    kinds = [p["kind"] for p in log["pieces"]]
    assert kinds.count("keepalive") >= 2 and kinds.index("keepalive") > 5
    assert log["request"]["outcome"] == "client_disconnected"


def test_drain_waits_and_a_blocked_write_are_spans() -> None:
    rec = Recorder().new("POST", "/v1/chat/completions")
    t0 = rec.received
    rec.wrote(t0 + 0.1, 100, 0.0)
    rec.wrote(t0 + 0.2, 65536, 0.4)  # waited 400 ms for a slow reader
    rec.blocked_since = t0 + 0.7
    tl = request_timeline(rec, Replay(), now=t0 + 1.0)
    kinds = sorted((s.kind, round(s.start, 2), round(s.end, 2)) for s in tl.spans)
    assert kinds == [("blocked", 0.7, 1.0), ("drain", 0.2, 0.6)]


def test_seen_drops_the_conversation_once_the_request_finished() -> None:
    rec = Recorder().new("POST", "/v1/chat/completions")
    seen = Seen(keep=2)
    req = RequestInfo(rec.id, "openai_chat", body={"messages": MSG * 1000, "model": "m",
                                                    "stream_options": {"include_usage": True}})
    seen.keep(req)
    seen.on_event("new", rec)
    assert "messages" in req.body
    seen.on_event("finish", rec)
    assert req.body == {"model": "m", "stream_options": {"include_usage": True}}
    for i in range(3):
        seen.keep(RequestInfo(f"r{i}", "openai_chat"))
    assert seen.get(rec.id) is None and seen.get("r2") is not None


async def test_unknown_request_is_a_404(sim: Simulator) -> None:
    async with aiohttp.ClientSession() as s:
        for tail in ("timeline.svg", "bytes"):
            async with s.get(sim.url(f"/_sselab/requests/req_999999/{tail}")) as r:
                assert r.status == 404 and "req_999999" in (await r.json())["error"]


async def test_the_page_is_self_contained(sim: Simulator) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(sim.url("/_sselab/ui")) as r:
            html = await r.text()
            assert r.status == 200 and "default-src 'self'" in r.headers[
                "Content-Security-Policy"]
        assert 'src="/_sselab/lab/ui.js"' in html and 'type="module"' in html
        for name in ("ui.js", "common.js", "lab.css"):
            async with s.get(sim.url(f"/_sselab/lab/{name}")) as r:
                assert r.status == 200, name
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|"""
                             r"""from\s+["'](?:https?:)?//|@import""", text), path.name
