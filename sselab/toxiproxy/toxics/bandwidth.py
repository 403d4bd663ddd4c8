"""``bandwidth``: limit the rate to ``rate`` KB/s (1 KB = 1000 bytes, as in Toxiproxy).

Chunks larger than 100 ms worth of data are sent in 100 ms slices. Scheduling uses absolute times,
so sleep overshoot does not accumulate. ``rate`` 0 holds all data until the toxic is updated or
removed: that is what Toxiproxy ends up doing with a zero rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Chunk, Stub, register


@register("bandwidth")
@dataclass
class Bandwidth:
    rate: int = 0  # KB/s

    async def pipe(self, stub: Stub) -> None:
        bytes_per_s = self.rate * 1000
        slice_size = max(1, self.rate * 100)  # 100 ms worth
        due = stub.now()
        async for chunk in stub:
            data, at = chunk.data, chunk.at
            due = max(due, stub.now())
            while data:
                if bytes_per_s == 0:
                    await stub.sleep_until(float("inf"))
                    piece = data  # only an interrupt gets here
                else:
                    piece = data[:slice_size]
                    due += len(piece) / bytes_per_s
                    if not await stub.sleep_until(due):
                        piece = data  # interrupted: flush the rest now
                data = data[len(piece):]
                await stub.send(Chunk(piece, at))
