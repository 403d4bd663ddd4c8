"""The demo lab without a browser: its default answer lasts over 4 s and streams, the paths and
variants change what arrives, Stop is measured, bad input gets a one-line error."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from sselab.buffering import get_profile
from sselab.lab.demo import DemoLab
from sselab.lab.demo_options import FLAG_HELP, PATHS, VARIANTS
from sselab_reference_app import FLAG_NAMES


@pytest.fixture
async def lab() -> AsyncIterator[DemoLab]:
    async with DemoLab(idle_timeout=5) as running:
        yield running


async def _chat(session: aiohttp.ClientSession, url: str, model: str | None = None,
                stop_after: float | None = None) -> tuple[float, list[tuple[float, bytes]]]:
    """Ask through ``url``; (when the request was sent, [(seconds after, bytes read)])."""
    body: dict = {"prompt": "hi"}
    if model:
        body["model"] = model
    started = time.time()
    reads: list[tuple[float, bytes]] = []
    async with session.post(url, json=body, headers={"Accept-Encoding": "identity"}) as r:
        assert r.status == 200
        while chunk := await r.content.readany():
            reads.append((time.time() - started, chunk))
            if stop_after is not None and reads[-1][0] > stop_after:
                # what the page's Stop does: abort the read and tell the app (which would
                # otherwise keep the provider call for its resume grace)
                answer = r.headers.get("X-Answer-Id")
                if answer is None:
                    m = re.search(rb'"answer_id": ?"([^"]+)"', b"".join(c for _, c in reads))
                    answer = m.group(1).decode() if m else None
                assert answer, "the app named no answer id"
                stop = url.rsplit("/api/chat", 1)[0] + f"/api/answers/{answer}/stop"
                async with session.post(stop) as sr:
                    assert sr.status < 300, sr.status
                break
    return started, reads


def tokens(reads: list[tuple[float, bytes]]) -> int:
    return b"".join(c for _, c in reads).count(b"event: token")


async def test_the_first_answer_lasts_over_4_seconds_and_streams(lab: DemoLab) -> None:
    async with aiohttp.ClientSession() as s:
        _, reads = await _chat(s, lab.url + "/api/chat")  # no model: the demo's default
    with_text = [t for t, c in reads if b"event: token" in c]
    assert b"event: done" in reads[-1][1]
    assert with_text[-1] - with_text[0] >= 4.0, (with_text[0], with_text[-1])
    assert len(with_text) >= 60 and tokens(reads) >= 80  # progressively, a read per word
    gaps = [b - a for a, b in zip(with_text, with_text[1:])]
    assert max(gaps) < 1.0  # never one lump


async def test_nginx_with_the_naive_app_lumps_the_stream_direct_does_not(lab: DemoLab) -> None:
    async with aiohttp.ClientSession() as s:
        _, direct = await _chat(s, lab.url + "/_lab/via/direct/reference/api/chat", "default")
        _, lumps = await _chat(s, lab.url + "/_lab/via/nginx/no_headers/api/chat", "default")
        _, fixed = await _chat(s, lab.url + "/_lab/via/nginx/reference/api/chat", "default")
    n = tokens(direct)
    assert n == tokens(lumps) == tokens(fixed) >= 20
    assert sum(b"event: token" in c for _, c in direct) >= 0.7 * n
    assert sum(b"event: token" in c for _, c in fixed) >= 0.7 * n  # X-Accel-Buffering: no
    assert sum(b"event: token" in c for _, c in lumps) <= 3


async def test_stop_is_measured_from_the_browser_to_the_upstream_close(lab: DemoLab) -> None:
    async with aiohttp.ClientSession() as s:
        started, reads = await _chat(s, lab.url + "/_lab/via/direct/reference/api/chat",
                                     stop_after=1.0)
        stopped = reads[-1][0]  # Stop was pressed at the last read, before telling the app
        rec = await lab.sim.wait_for(lambda r: r.done, timeout=5)
        arrivals = [[t, len(c), c.count(b"event: token")] for t, c in reads]
        async with s.post(lab.url + "/_lab/answer", json={
                "started_at": started, "arrivals": arrivals, "stopped": stopped}) as r:
            view = await r.json()
    assert rec.outcome == "client_disconnected"
    f = view["figures"]
    m = re.fullmatch(r"upstream closed (\d+) ms after Stop", f["stop"])
    assert m and int(m.group(1)) < 500, f["stop"]
    assert f["upstream_outcome"] == "client_disconnected"
    assert f["arrivals"] == len(reads) and f["upstream_tokens"] >= 5
    assert 0.5 <= f["relay_ratio"] <= 1.2
    assert view["upstream"]["id"] == rec.id
    assert "Stop (" in view["svg"] and "upstream closed (" in view["svg"]
    assert "browser arrivals" in view["svg"] and "upstream writes" in view["svg"]


async def test_the_answer_route_names_the_bad_field(lab: DemoLab) -> None:
    async with aiohttp.ClientSession() as s:
        for body, field in (({}, "started_at"), ({"started_at": 1, "arrivals": [["x"]]},
                                                   "arrivals[0]"),
                            ({"started_at": 1, "stopped": "soon"}, "stopped")):
            async with s.post(lab.url + "/_lab/answer", json=body) as r:
                assert r.status == 400
                assert (await r.json())["error"].startswith(field + ":")
        async with s.post(lab.url + "/_lab/via/squid/reference/api/chat", json={}) as r:
            assert r.status == 404 and "squid" in (await r.json())["error"]["message"]


async def test_options_list_every_scenario_path_and_variant(lab: DemoLab) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(lab.url + "/_lab/options") as r:
            opts = await r.json()
    assert [x["name"] for x in opts["scenarios"]] == sorted(lab.sim.scenarios)
    assert opts["default"] == "demo" and all(x["description"] for x in opts["scenarios"])
    assert [x["name"] for x in opts["paths"]] == list(PATHS)
    assert opts["paths"][1]["description"] == get_profile("nginx").summary
    assert [x["name"] for x in opts["variants"]] == list(VARIANTS)
    assert set(FLAG_HELP) == set(FLAG_NAMES)


async def test_an_unknown_first_scenario_is_refused() -> None:
    from sselab.errors import UnknownScenarioError

    with pytest.raises(UnknownScenarioError, match="mid-stream-eror"):
        await DemoLab(scenario="mid-stream-eror").start()
