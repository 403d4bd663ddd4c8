"""sselab's simulator streaming through the proxy: toxics on real SSE streams.

Uses the ``toxiproxy`` fixture (embedded server, or a real Toxiproxy when one is configured).
"""

from __future__ import annotations

import json

import httpx
import pytest

from sselab import SCENARIO_HEADER, Simulator
from sselab.sse_parse import SSEDecoder

TEXT = "Héllo wörld, streaming — 你好 🌍 through a sliced pipe, every byte intact."
FAST = f"""
name: tp-fast
response: {{text: {json.dumps(TEXT, ensure_ascii=False)}}}
tokenize: chars
timing: {{ttft_ms: 0, token_ms: 1}}
"""
SLOW = """
name: tp-slow
response: {faker: {seed: 3, words: 300}}
tokenize: words
timing: {ttft_ms: 0, token_ms: 10}
"""


async def _read_sse(base_url: str, scenario: str) -> tuple[str, list[str], int]:
    """(joined token text, event names, number of network reads) from ``POST /sse``."""
    decoder, texts, names, reads = SSEDecoder(), [], [], 0
    async with httpx.AsyncClient(timeout=10) as client:
        async with client.stream("POST", base_url + "/sse", json={},
                                 headers={SCENARIO_HEADER: scenario}) as resp:
            assert resp.status_code == 200
            async for raw in resp.aiter_raw():
                reads += 1
                for event in decoder.feed(raw):
                    names.append(event.event)
                    if event.event == "token":
                        texts.append(json.loads(event.data)["text"])
    return "".join(texts), names, reads


async def test_slicer_downstream_sse_client_reassembles_exact_text(toxiproxy):
    async with Simulator() as sim:
        sim.add_scenario(FAST)
        proxy = toxiproxy.create(upstream=f"127.0.0.1:{sim.port}", name="sim")
        proxy.add_toxic(type="slicer", attributes={"average_size": 7, "size_variation": 3,
                                                   "delay": 100})
        direct_text, direct_events, direct_reads = await _read_sse(sim.base_url, "tp-fast")
        text, events, reads = await _read_sse(f"http://{proxy.listen}", "tp-fast")
    assert direct_text == TEXT
    assert text == TEXT and events == direct_events  # every event, in order, exact bytes
    assert events[0] == "start" and events[-1] == "done"
    assert reads > 3 * direct_reads  # the slicer really cut the stream into small pieces
    assert [r.outcome for r in sim.requests] == ["completed", "completed"]


async def test_reset_peer_mid_stream_is_recorded_as_client_disconnected(toxiproxy):
    async with Simulator() as sim:
        sim.add_scenario(SLOW)
        proxy = toxiproxy.create(upstream=f"127.0.0.1:{sim.port}", name="sim")
        async with httpx.AsyncClient(timeout=10) as client:
            async with client.stream("POST", f"http://{proxy.listen}/sse", json={},
                                     headers={SCENARIO_HEADER: "tp-slow"}) as resp:
                seen, chunks = b"", resp.aiter_raw()
                async for raw in chunks:
                    seen += raw
                    if seen.count(b"event: token") >= 5:
                        break
                # Live toxic: the next chunk from the simulator resets both sides.
                proxy.add_toxic(type="reset_peer", attributes={"timeout": 0})
                with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                    async for raw in chunks:
                        seen += raw
        record = await sim.wait_for(lambda r: r.done, timeout=5)
    assert record.outcome == "client_disconnected"
    assert record.client_disconnected_at is not None
    assert record.bytes_written > 0 and b"event: done" not in seen  # it stopped mid-stream
