"""``latency``: delay every chunk by ``latency`` ± ``jitter`` milliseconds.

The delay counts from when the proxy read the chunk, so a steady stream keeps its throughput; the
chunk leaves stamped with its send time, so chained latency toxics add up (as in Toxiproxy).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import ClassVar

from .base import Stub, register


@register("latency")
@dataclass
class Latency:
    latency: int = 0  # ms
    jitter: int = 0  # ms

    input_buffer: ClassVar[int] = 1024  # chunks may queue while earlier ones wait out their delay

    def delay(self) -> float:
        ms = self.latency
        if self.jitter > 0:
            ms += random.randrange(-self.jitter, self.jitter)
        return ms / 1000

    async def pipe(self, stub: Stub) -> None:
        async for chunk in stub:
            due = chunk.at + self.delay()
            await stub.sleep_until(due)  # interrupted: send at once, the loop then ends
            await stub.send(replace(chunk, at=max(due, chunk.at)))
