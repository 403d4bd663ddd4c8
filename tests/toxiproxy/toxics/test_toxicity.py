"""Toxicity is applied once, by the runner: a toxic that is not rolled acts as noop."""

from simulator.toxiproxy.toxics.latency import Latency
from simulator.toxiproxy.toxics.limit_data import LimitData


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
