import asyncio

from sselab.toxiproxy.toxics.slow_close import SlowClose


async def test_data_passes_at_once_and_the_end_waits(run):
    r = run(SlowClose(delay=100))
    r.feed(b"bye")
    r.eof()
    assert await r.wait_end() == "eof"
    assert r.received[0][0] < 0.03
    assert 0.095 <= r.end_at < 0.25


async def test_interrupted_delay_starts_over_after_update(run):
    r = run(SlowClose(delay=10_000))
    r.eof()
    await asyncio.sleep(0.02)
    await r.restart(SlowClose(delay=20))
    assert await r.wait_end() == "eof"
