"""A socket-free harness: one toxic on a real pipeline stage, fed by hand, output timed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sselab.toxiproxy.link import Stage
from sselab.toxiproxy.toxic_collection import ToxicSpec
from sselab.toxiproxy.toxics import Channel, Chunk, Stub


class Run:
    def __init__(self, toxic: Any, toxicity: float = 1.0) -> None:
        self.loop = asyncio.get_running_loop()
        self.inp = Channel(1024)
        self.out = Channel(1_000_000)
        spec = ToxicSpec("t", toxic.wire_name, "downstream", "downstream", toxicity, toxic)
        self.stage = Stage(spec, Stub(self.inp, self.out))
        self.t0 = self.loop.time()
        self.received: list[tuple[float, bytes]] = []  # (seconds since start, data)
        self.end: str | None = None
        self.end_at: float | None = None
        self._collector = self.loop.create_task(self._collect())
        self.stage.start()

    @property
    def data(self) -> bytes:
        return b"".join(d for _, d in self.received)

    @property
    def sizes(self) -> list[int]:
        return [len(d) for _, d in self.received]

    def feed(self, data: bytes, age: float = 0.0) -> None:
        """Push ``data`` as if the proxy had read it ``age`` seconds ago."""
        self.inp.push(Chunk(data, self.loop.time() - age))

    def eof(self) -> None:
        self.inp.close("eof")

    async def interrupt(self) -> None:
        await self.stage.interrupt()

    async def restart(self, toxic: Any = None) -> None:
        """What a live update does: interrupt, then run again (with the new settings)."""
        await self.stage.interrupt()
        if toxic is not None:
            self.stage.spec.toxic = toxic
        self.stage.start()

    async def wait_end(self, timeout: float = 3.0) -> str | None:
        await asyncio.wait_for(asyncio.shield(self._collector), timeout)
        return self.end

    async def wait_bytes(self, n: int, timeout: float = 3.0) -> None:
        async def poll() -> None:
            while len(self.data) < n:
                await asyncio.sleep(0.001)
        await asyncio.wait_for(poll(), timeout)

    async def _collect(self) -> None:
        ch = self.out
        while True:
            if ch.items:
                self.received.append((self.loop.time() - self.t0, ch.take().data))
            elif ch.end is not None:
                self.end, self.end_at = ch.end, self.loop.time() - self.t0
                return
            else:
                ch.getter = self.loop.create_future()
                await ch.getter
                ch.getter = None

    def cancel(self) -> None:
        self.stage.cancel()
        self._collector.cancel()


@pytest.fixture
async def run():
    runs: list[Run] = []

    def start(toxic: Any, toxicity: float = 1.0) -> Run:
        r = Run(toxic, toxicity)
        runs.append(r)
        return r

    yield start
    for r in runs:
        r.cancel()
