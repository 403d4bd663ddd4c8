"""The runner: toxicity is rolled once per stage (an unrolled toxic acts as noop); a toxic
that raises ends its connection, not the server."""

from sselab.toxiproxy.toxics.latency import Latency
from sselab.toxiproxy.toxics.limit_data import LimitData


async def test_toxicity_zero_is_a_pass_through(run):
    r = run(LimitData(bytes=1), toxicity=0.0)
    r.feed(b"all of it")
    r.eof()
    assert await r.wait_end() == "eof"
    assert r.data == b"all of it"


async def test_toxicity_one_always_applies(run):
    r = run(Latency(latency=40), toxicity=1.0)
    r.feed(b"x")
    await r.wait_bytes(1)
    assert r.received[0][0] >= 0.035


async def test_roll_is_once_per_stage(run):
    runs = [run(Latency(latency=0), toxicity=0.5) for _ in range(200)]
    active = sum(r.stage.active for r in runs)
    assert 60 < active < 140


class _Broken:
    wire_name = "broken"

    async def pipe(self, stub):
        await stub.recv()
        raise RuntimeError("bug in a toxic")


async def test_a_failing_toxic_closes_its_connection_only(run, caplog):
    r = run(_Broken())
    r.feed(b"x")
    assert await r.wait_end() == "close"
    assert "bug in a toxic" in caplog.text
