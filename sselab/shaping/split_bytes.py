"""``split``: write each frame in several pieces, so a client reads partial frames.

Modes: ``fixed`` (``size`` bytes a write), ``random`` (sizes from ``min_size``..``max_size``
drawn from ``seed``), ``bytes`` (one byte a write). Pieces never straddle two frames (a frame is
one provider write); splits do fall inside ``data:``, inside JSON strings and inside multi-byte
UTF-8 characters. ``pause_ms`` spaces every piece from the one before (the stream runs slower
when its pieces take longer than its tokens), so the kernel cannot coalesce them and a reader
sees each one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from ..encoders.base import Frame, Item
from ..scenario.validate import Where
from .base import Fault


@dataclass(frozen=True)
class SplitFault(Fault, type="split"):
    summary = "split every frame into byte pieces (fixed, random from a seed, or one byte)"
    shape_order = 100  # after any rewrite of the bytes themselves
    mode: Literal["fixed", "random", "bytes"] = "fixed"
    size: int = 7
    min_size: int = 1
    max_size: int = 16
    seed: int = 0
    pause_ms: float = 0.0

    def check(self, where: Where, path: str, token_count: int) -> None:
        if self.size < 1:
            raise where.error(f"{path}.size", f"must be at least 1; got {self.size}")
        if not 1 <= self.min_size <= self.max_size:
            raise where.error(f"{path}.min_size", "need 1 <= min_size <= max_size; got "
                                                  f"{self.min_size}..{self.max_size}")
        if self.pause_ms < 0:
            raise where.error(f"{path}.pause_ms", f"must be 0 or more; got {self.pause_ms}")

    def sizes(self) -> Iterator[int]:
        rng = random.Random(self.seed)
        while True:
            if self.mode == "bytes":
                yield 1
            elif self.mode == "fixed":
                yield self.size
            else:
                yield rng.randint(self.min_size, self.max_size)

    def shape(self, items: Iterator[Item]) -> Iterator[Item]:
        sizes = self.sizes()
        pause = self.pause_ms / 1000.0
        last = float("-inf")  # when the previous piece is due
        for item in items:
            if not isinstance(item, Frame):
                yield item
                continue
            data, pos = item.data, 0
            while pos < len(data):
                n = next(sizes)
                # with a pause, pieces never go out back to back, even when the stream runs late
                at = max(item.at, last + pause) if pause else item.at
                yield Frame(at, data[pos:pos + n])
                pos, last = pos + n, at
