import asyncio

import pytest

from sselab.toxiproxy.toxics.slicer import Slicer


@pytest.mark.parametrize(("avg", "var", "size"), [(10, 3, 1000), (64, 0, 1024), (1, 0, 50),
                                                  (0, 0, 7), (100, 20, 50)])
def test_cuts_cover_the_data_within_the_spread(avg, var, size):
    cuts = Slicer(average_size=avg, size_variation=var).cuts(0, size)
    assert cuts[-1] == size and cuts == sorted(set(cuts))
    pieces = [b - a for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]
    assert all(0 < p <= max(avg + var, 1) for p in pieces)
    if size > avg + var:
        assert all(p >= (avg - var) // 2 for p in pieces)


def test_no_variation_halves_exactly():
    assert Slicer(average_size=64).cuts(0, 1024) == list(range(64, 1025, 64))


async def test_pipe_sends_pieces_in_order_with_delay(run):
    r = run(Slicer(average_size=10, size_variation=2, delay=5000))
    r.feed(bytes(range(100)))
    r.eof()
    assert await r.wait_end() == "eof"
    assert r.data == bytes(range(100))
    assert len(r.sizes) >= 8 and max(r.sizes) <= 12
    assert r.received[-1][0] >= 0.005 * (len(r.sizes) - 1)


async def test_interrupt_sends_the_rest_in_one_piece(run):
    r = run(Slicer(average_size=10, delay=1_000_000))
    r.feed(bytes(range(80)))
    await r.wait_bytes(10)
    await r.interrupt()
    assert r.data == bytes(range(80)) and r.sizes == [10, 70]
    await asyncio.sleep(0)
