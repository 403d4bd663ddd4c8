import asyncio

from sselab.toxiproxy.toxics.timeout import Timeout


async def test_drops_data_and_closes_after_timeout(run):
    r = run(Timeout(timeout=80))
    r.feed(b"dropped")
    assert await r.wait_end() == "close"  # a close, not an end of stream
    assert r.data == b""
    assert 0.075 <= r.end_at < 0.2


async def test_data_restarts_the_timer(run):
    r = run(Timeout(timeout=80))
    for _ in range(4):
        await asyncio.sleep(0.04)
        r.feed(b".")
    assert await r.wait_end() == "close"
    assert r.end_at >= 0.2


async def test_zero_never_closes_but_the_end_still_ends(run):
    r = run(Timeout(timeout=0))
    r.feed(b"dropped")
    await asyncio.sleep(0.1)
    assert r.end is None and r.data == b""
    r.eof()
    assert await r.wait_end() == "eof"


async def test_interrupt_does_not_close(run):
    r = run(Timeout(timeout=0))
    await r.interrupt()
    await asyncio.sleep(0.01)
    assert r.end is None and Timeout.close_on_remove
