from sselab.toxiproxy.toxics.limit_data import LimitData


async def test_passes_exactly_n_bytes_then_closes(run):
    r = run(LimitData(bytes=25))
    for _ in range(5):
        r.feed(b"0123456789")
    assert await r.wait_end() == "close"
    assert r.data == b"0123456789" * 2 + b"01234"


async def test_count_survives_an_update(run):
    r = run(LimitData(bytes=15))
    r.feed(b"0123456789")
    await r.wait_bytes(10)
    await r.restart(LimitData(bytes=12))
    r.feed(b"abcdef")
    assert await r.wait_end() == "close"
    assert r.data == b"0123456789ab"


async def test_zero_closes_on_first_data_only(run):
    r = run(LimitData(bytes=0))
    r.feed(b"x")
    assert await r.wait_end() == "close"
    assert r.data == b""
