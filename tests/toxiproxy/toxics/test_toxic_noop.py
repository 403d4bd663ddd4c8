from sselab.toxiproxy.toxics.noop import Noop


async def test_passes_chunks_in_order_and_the_end(run):
    r = run(Noop())
    for part in (b"a", b"bc", b"def"):
        r.feed(part)
    r.eof()
    assert await r.wait_end() == "eof"
    assert r.sizes == [1, 2, 3] and r.data == b"abcdef"
