import asyncio

from sselab.toxiproxy.toxics.bandwidth import Bandwidth


async def test_rate_and_100ms_slices(run):
    r = run(Bandwidth(rate=100))  # 100 KB/s: 10,000 bytes per 100 ms slice
    r.feed(b"x" * 30_000)
    r.eof()
    assert await r.wait_end() == "eof"
    assert r.sizes == [10_000, 10_000, 10_000]
    assert 0.28 <= r.received[-1][0] <= 0.4


async def test_small_chunks_are_paced_too(run):
    r = run(Bandwidth(rate=10))  # 10 KB/s
    for _ in range(5):
        r.feed(b"y" * 400)  # 40 ms each
    await r.wait_bytes(2000)
    assert 0.18 <= r.received[-1][0] <= 0.3


async def test_zero_rate_holds_until_interrupted(run):
    r = run(Bandwidth(rate=0))
    r.feed(b"stuck")
    await asyncio.sleep(0.05)
    assert r.data == b""
    await r.interrupt()
    assert r.data == b"stuck"


async def test_interrupt_mid_chunk_sends_the_rest_at_once(run):
    r = run(Bandwidth(rate=1))  # 100-byte slices, one per 100 ms
    r.feed(bytes(range(250)))
    await r.wait_bytes(100)
    await r.interrupt()
    assert r.data == bytes(range(250))
