"""``reset_peer``: once data (or end of input) arrives, wait ``timeout`` ms, then end the
connection with a TCP RST on both sides, discarding what is pending (as Toxiproxy does).

Interrupted while waiting (the toxic is updated or removed), it passes on the chunk it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Stub, register


@register("reset_peer")
@dataclass
class ResetPeer:
    timeout: int = 0  # ms

    async def pipe(self, stub: Stub) -> None:
        chunk = await stub.recv()
        if stub.interrupted:
            return
        if await stub.sleep(self.timeout / 1000):
            stub.reset()
        elif chunk is not None:
            await stub.send(chunk)
