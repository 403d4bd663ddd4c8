"""The shared ticker: frames leave at their due times, in order, and no stream starves another."""

from __future__ import annotations

import asyncio
import time

from sselab.encoders.base import Frame
from sselab.script.events import Close, Timed
from sselab.server.pacer import BACKPRESSURE, CONTROL, END, Pacer


async def test_frames_leave_in_order_near_their_due_times() -> None:
    loop = asyncio.get_running_loop()
    pacer = Pacer()
    t0 = loop.time()
    seen: list[tuple[str, float, float]] = []

    def writer(name: str):
        def write_now(data: bytes, due: float) -> bool:
            seen.append((name, loop.time(), due))
            return True
        return write_now

    jobs = [pacer.run(iter([Frame(k * 0.02 + i * 0.005, b"x") for k in range(10)]), t0,
                      writer(f"s{i}")) for i in range(3)]
    results = await asyncio.wait_for(asyncio.gather(*(j.future for j in jobs)), 5)
    assert results == [(END, None)] * 3
    assert len(seen) == 30
    dues = [d for _, _, d in seen]
    assert dues == sorted(dues)  # global order by due time across streams
    assert all(t >= d for _, t, d in seen)  # never early
    late = sorted(t - d for _, t, d in seen)
    assert late[len(late) // 2] < 0.02  # typically ~1 ms; generous for a busy box


async def test_control_and_backpressure_hand_back_with_the_item() -> None:
    loop = asyncio.get_running_loop()
    close = Timed(0.0, Close())
    job = Pacer().run(iter([Frame(0.0, b"a"), close, Frame(0.0, b"b")]), loop.time(),
                      lambda d, due: True)
    assert await job.future == (CONTROL, close)
    frame = Frame(0.0, b"c")
    job = Pacer().run(iter([frame]), loop.time(), lambda d, due: False)
    assert await job.future == (BACKPRESSURE, frame)


async def test_a_firehose_does_not_starve_a_paced_stream() -> None:
    loop = asyncio.get_running_loop()
    pacer = Pacer()
    t0 = loop.time()
    paced_late: list[float] = []
    firehose_count = 0

    def fire(data: bytes, due: float) -> bool:  # a costly write: ~20 us each, ~1 s in all
        nonlocal firehose_count
        firehose_count += 1
        end = time.perf_counter() + 20e-6
        while time.perf_counter() < end:
            pass
        return True

    def paced(data: bytes, due: float) -> bool:
        paced_late.append(loop.time() - due)
        return True

    big = pacer.run(iter([Frame(0.0, b"f")] * 50_000), t0, fire)
    small = pacer.run(iter([Frame(0.01 * k, b"p") for k in range(10)]), t0, paced)
    await asyncio.wait_for(small.future, 10)
    assert firehose_count < 50_000  # the paced stream finished while the firehose still ran
    assert max(paced_late) < 0.25
    await asyncio.wait_for(big.future, 30)
    assert firehose_count == 50_000


async def test_cancelled_job_is_skipped() -> None:
    loop = asyncio.get_running_loop()
    wrote: list[bytes] = []
    job = Pacer().run(iter([Frame(0.05, b"late")]), loop.time(),
                      lambda d, due: wrote.append(d) or True)
    job.cancelled = True
    await asyncio.sleep(0.1)
    assert wrote == [] and not job.future.done()


async def test_on_end_runs_with_the_last_write_not_a_loop_turn_later() -> None:
    loop = asyncio.get_running_loop()
    order: list[str] = []
    job = Pacer().run(iter([Frame(0.0, b"a"), Frame(0.01, b"b")]), loop.time(),
                      lambda d, due: order.append(d.decode()) or True,
                      on_end=lambda: order.append("end"))
    seen_at_b: list[list[str]] = []
    while "end" not in order:
        seen_at_b.append(list(order))
        await asyncio.sleep(0.001)
    assert order == ["a", "b", "end"]
    assert ["a", "b"] not in seen_at_b  # never a moment with the last write done but no end
    assert await job.future == (END, None)
