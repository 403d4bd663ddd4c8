"""``GET /_sselab/requests``: paginated, summary-only unless asked, and never a stall for the
streams being served while a large timeline is read."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import httpx

from sselab import Simulator

CHAT = "/v1/chat/completions"
BODY = {"model": "quick", "stream": False, "messages": [{"role": "user", "content": "hi"}]}
QUICK = ("name: quick\ndescription: at once\nresponse: {text: hi}\n"
         "timing: {ttft_ms: 0, token_ms: 0}\n")


async def _requests(sim: Simulator, n: int) -> list[str]:
    sim.add_scenario(QUICK)
    async with httpx.AsyncClient() as c:
        return [(await c.post(sim.url(CHAT), json=BODY)).headers["x-sselab-request-id"]
                for _ in range(n)]


async def test_pages_follow_next_until_null() -> None:
    async with Simulator() as sim:
        ids = await _requests(sim, 25)
        seen, pages, cursor = [], [], ""
        async with httpx.AsyncClient() as c:
            for _ in range(10):
                page = (await c.get(sim.url(f"/_sselab/requests?limit=10&since={cursor}"))).json()
                pages.append(len(page["requests"]))
                seen += [r["id"] for r in page["requests"]]
                cursor = page["next"]
                if cursor is None:
                    break
            by_id = (await c.get(sim.url(f"/_sselab/requests?since={ids[19]}"))).json()
            by_number = (await c.get(sim.url("/_sselab/requests?since=20"))).json()
    assert pages == [10, 10, 5] and seen == ids
    assert [r["id"] for r in by_id["requests"]] == ids[20:] == [
        r["id"] for r in by_number["requests"]]
    assert by_id["next"] is None


async def test_the_default_page_is_summaries_and_bounded() -> None:
    async with Simulator() as sim:
        ids = await _requests(sim, 105)
        async with httpx.AsyncClient() as c:
            listing = (await c.get(sim.url("/_sselab/requests"))).json()
            with_writes = (await c.get(sim.url("/_sselab/requests?writes=1&limit=2"))).json()
            one = (await c.get(sim.url(f"/_sselab/requests/{ids[0]}"))).json()
            bare = (await c.get(sim.url(f"/_sselab/requests/{ids[0]}?writes=0"))).json()
    assert len(listing["requests"]) == 100 and listing["next"] == ids[99]
    assert "writes" not in listing["requests"][0] and listing["requests"][0]["write_count"] >= 1
    assert listing["dropped"] == {"records": 0, "writes": 0}
    assert listing["timeline"]["requests"] == 105 and listing["timeline"]["budget"] > 0
    assert len(with_writes["requests"][0]["writes"]) == with_writes["requests"][0]["write_count"]
    assert one["writes"] and one["id"] == ids[0] and "writes" not in bare


async def test_the_listing_says_what_was_dropped() -> None:
    async with Simulator(timeline_budget=20_000) as sim:
        await _requests(sim, 40)
        async with httpx.AsyncClient() as c:
            listing = (await c.get(sim.url("/_sselab/requests"))).json()
            stats = (await c.get(sim.url("/_sselab/stats"))).json()
    dropped = listing["dropped"]["records"]
    assert dropped > 20 and len(listing["requests"]) == 40 - dropped
    assert stats["timeline"]["dropped"]["records"] == dropped
    assert stats["timeline"]["budget"] == 20_000 and stats["requests"] == 40 - dropped


async def test_bad_paging_parameters_are_a_clear_400() -> None:
    async with Simulator() as sim, httpx.AsyncClient() as c:
        answers = [await c.get(sim.url("/_sselab/requests?" + q))
                   for q in ("limit=0", "limit=5000", "limit=x", "since=yesterday", "writes=2")]
    assert [a.status_code for a in answers] == [400] * 5
    assert "limit" in answers[1].json()["error"] and "1000" in answers[1].json()["error"]
    assert "since" in answers[3].json()["error"]


async def test_the_json_text_is_what_json_dumps_would_make() -> None:
    async with Simulator() as sim:
        [rid] = await _requests(sim, 1)
        async with httpx.AsyncClient() as c:
            one = (await c.get(sim.url(f"/_sselab/requests/{rid}"))).json()
        assert one == json.loads(json.dumps(sim.recorder.get(rid).to_json()))


READER = r"""
import json, sys, time, urllib.request
base, cursor, size, t = sys.argv[1], "", 0, time.perf_counter()
for _ in range(1000):
    url = base + "/_sselab/requests?writes=1&limit=1000&since=" + cursor
    with urllib.request.urlopen(url, timeout=60) as r:
        data = r.read()
    size += len(data)
    cursor = json.loads(data).get("next")
    if not cursor:
        break
print(json.dumps({"bytes": size, "seconds": time.perf_counter() - t}))
"""


async def test_reading_a_large_timeline_does_not_stall_the_loop() -> None:
    async with Simulator() as sim:
        t = time.monotonic()
        for _ in range(30):  # 600,000 writes: ~60 MB of JSON
            rec = sim.recorder.new("POST", CHAT)
            for i in range(20_000):
                rec.wrote(t + i * 1e-5, 40, 0.0, 1e-5)
            rec.finish("completed")
        gaps: list[float] = []
        done = asyncio.Event()

        async def probe() -> None:
            loop = asyncio.get_running_loop()
            last = loop.time()
            while not done.is_set():
                await asyncio.sleep(0.001)
                now = loop.time()
                gaps.append(now - last)
                last = now

        probing = asyncio.create_task(probe())
        reader = await asyncio.create_subprocess_exec(  # its own process: no shared GIL
            sys.executable, "-c", READER, sim.base_url, stdout=subprocess.PIPE)
        out, _ = await asyncio.wait_for(reader.communicate(), 90)
        done.set()
        await probing
    read = json.loads(out)
    assert read["bytes"] > 50_000_000
    worst = max(gaps)
    # one answer serialised at once stalled every stream for the whole read (seconds)
    assert worst < 0.25 and worst < read["seconds"] / 4, (worst, read)


async def test_stats_percentiles_match_an_exact_count() -> None:
    async with Simulator() as sim:
        t = time.monotonic()
        lates = []
        for k in range(3):
            rec = sim.recorder.new("POST", CHAT)
            for i in range(2_001):
                late = ((i * 7919 + k * 104729) % 10_007) / 1e6  # 0..10 ms, spread
                rec.wrote(t, 10, 0.0, late)
                if i:  # the first write of each request is its time to first byte
                    lates.append(late)
            rec.finish("completed")
        async with httpx.AsyncClient() as c:
            stats = (await c.get(sim.url("/_sselab/stats"))).json()
    lates.sort()

    def exact(q: float) -> float:
        return round(lates[min(len(lates) - 1, int(q * len(lates)))] * 1000, 3)

    assert stats["writes"] == len(lates) == 6_000
    assert stats["late_ms"] == {"p50": exact(0.5), "p90": exact(0.9), "p99": exact(0.99),
                                "max": round(lates[-1] * 1000, 3)}
    assert stats["outcomes"] == {"completed": 3} and stats["timeline"]["requests"] == 3
