"""``limit_data``: pass the first ``bytes`` bytes of the connection's direction, then close it.

The count is per connection and survives updates; data past the limit is dropped (the toxic's
point). Like Toxiproxy, a connection that sends nothing is never closed, even with ``bytes`` 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Chunk, Stub, register


@register("limit_data")
@dataclass
class LimitData:
    bytes: int = 0

    async def pipe(self, stub: Stub) -> None:
        sent = stub.state.setdefault("sent", 0)
        async for chunk in stub:
            room = max(self.bytes - sent, 0)
            data = chunk.data[:room]
            if data:
                await stub.send(Chunk(data, chunk.at))
                sent = stub.state["sent"] = sent + len(data)
            if sent >= self.bytes:
                stub.close()
                return
