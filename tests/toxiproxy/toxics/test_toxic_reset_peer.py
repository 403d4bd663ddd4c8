import asyncio

from sselab.toxiproxy.toxics.reset_peer import ResetPeer


async def test_resets_timeout_after_first_data(run):
    r = run(ResetPeer(timeout=60))
    await asyncio.sleep(0.05)  # no data yet: nothing happens
    assert r.end is None
    r.feed(b"hello")
    assert await r.wait_end() == "reset"
    assert r.data == b""
    assert 0.105 <= r.end_at < 0.25


async def test_end_of_input_also_triggers_it(run):
    r = run(ResetPeer(timeout=0))
    r.eof()
    assert await r.wait_end() == "reset"


async def test_interrupted_wait_passes_the_chunk_on(run):
    r = run(ResetPeer(timeout=10_000))
    r.feed(b"keep")
    await asyncio.sleep(0.02)
    await r.interrupt()
    assert r.data == b"keep" and r.end is None
