"""``noop``: passes data through unchanged (Toxiproxy registers it too; handy in tests)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Stub, register


@register("noop")
@dataclass
class Noop:
    async def pipe(self, stub: Stub) -> None:
        async for chunk in stub:
            await stub.send(chunk)
