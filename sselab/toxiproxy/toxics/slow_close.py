"""``slow_close``: pass data through, but delay the close by ``delay`` milliseconds."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Stub, register


@register("slow_close")
@dataclass
class SlowClose:
    delay: int = 0  # ms

    async def pipe(self, stub: Stub) -> None:
        async for chunk in stub:
            await stub.send(chunk)
        if stub.at_eof and await stub.sleep(self.delay / 1000):
            stub.close()
