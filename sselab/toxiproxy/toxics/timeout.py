"""``timeout``: let no data through; close the connection after ``timeout`` ms (0 = never).

As in Toxiproxy, data read meanwhile is dropped (that is the toxic's point), the timer restarts
whenever data arrives, end of input still ends the stream, and removing the toxic closes the
connection (its stream has lost data, so it cannot go on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import Stub, register


@register("timeout")
@dataclass
class Timeout:
    timeout: int = 0  # ms

    close_on_remove: ClassVar[bool] = True

    async def pipe(self, stub: Stub) -> None:
        while True:
            deadline = stub.now() + self.timeout / 1000 if self.timeout > 0 else None
            if await stub.recv(deadline) is None:
                break
        if not stub.interrupted:
            stub.close()  # deadline passed, or end of input
