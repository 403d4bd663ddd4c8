import asyncio

from sselab.toxiproxy.toxics.latency import Latency


async def test_delays_each_chunk_from_its_arrival(run):
    r = run(Latency(latency=60))
    r.feed(b"fresh")
    r.feed(b"old", age=1.0)  # already waited longer than the latency
    await r.wait_bytes(8)
    (t1, d1), (t2, d2) = r.received
    assert (d1, d2) == (b"fresh", b"old")  # never reordered
    assert 0.055 <= t1 < 0.2 and t2 - t1 < 0.01


async def test_queued_chunks_do_not_add_up(run):
    r = run(Latency(latency=50))
    for i in range(20):
        r.feed(bytes([i]))
    r.eof()
    assert await r.wait_end() == "eof"
    assert r.data == bytes(range(20))
    assert r.received[-1][0] < 0.2  # 20 chunks, one 50 ms delay, not twenty


async def test_interrupt_flushes_the_chunk_in_flight(run):
    r = run(Latency(latency=5000))
    r.feed(b"held")
    await asyncio.sleep(0.02)
    assert r.data == b""
    await r.interrupt()
    assert r.data == b"held"  # sent at once, not dropped
    r.feed(b"next")
    await r.restart(Latency(latency=0))
    await r.wait_bytes(8)
    assert r.data == b"heldnext"


async def test_jitter_stays_within_latency_plus_minus_jitter():
    toxic = Latency(latency=100, jitter=30)
    delays = {toxic.delay() for _ in range(500)}
    assert min(delays) >= 0.07 and max(delays) < 0.13 and len(delays) > 20
    assert Latency(latency=100).delay() == 0.1
