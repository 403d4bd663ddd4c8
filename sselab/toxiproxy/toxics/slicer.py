"""``slicer``: cut each chunk into pieces of about ``average_size`` ± ``size_variation`` bytes,
waiting ``delay`` microseconds after each piece.

Pieces come from Toxiproxy's recursive halving: a piece is final once it is no larger than
``average_size + size_variation``, so pieces range from about half that up to it. asyncio timers
have millisecond granularity, so a ``delay`` under 1000 µs still waits about 1 ms.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .base import Chunk, Stub, register


@register("slicer")
@dataclass
class Slicer:
    average_size: int = 0  # bytes
    size_variation: int = 0  # bytes
    delay: int = 0  # microseconds

    def cuts(self, start: int, end: int) -> list[int]:
        """Offsets where pieces end, for data[start:end] (the last one is ``end``)."""
        if end - start <= 1 or (end - start) - self.average_size <= self.size_variation:
            return [end]
        mid = start + (end - start) // 2
        if self.size_variation > 0:
            mid += random.randrange(-self.size_variation, self.size_variation)
        mid = min(max(mid, start + 1), end - 1)
        return self.cuts(start, mid) + self.cuts(mid, end)

    async def pipe(self, stub: Stub) -> None:
        async for chunk in stub:
            data, start = chunk.data, 0
            for end in self.cuts(0, len(data)):
                await stub.send(Chunk(data[start:end], chunk.at))
                start = end
                if start < len(data) and self.delay > 0:
                    if not await stub.sleep(self.delay / 1e6):
                        await stub.send(Chunk(data[start:], chunk.at))  # interrupted
                        break
