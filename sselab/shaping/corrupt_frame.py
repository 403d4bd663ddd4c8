"""``corrupt_frame``: the frame after N tokens arrives damaged: its last byte is flipped.

The binary analogue of ``malformed_json``. In an AWS event stream (Bedrock) the last byte is the
message CRC32's, so the frame fails its checksum (botocore raises ``ChecksumMismatch``). In a
text format the last byte is a line break: an SSE event then runs into the next one (which an
SSE parser reads as an unknown field and drops), an NDJSON line into the next line (the pair is
no longer JSON). Byte splitting applies after the damage.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..encoders.base import Frame, Item
from ..script.build import Plan
from ..script.events import CorruptNext, Timed
from .base import Positioned


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0xFF]) if data else data


@dataclass(frozen=True)
class CorruptFrameFault(Positioned, type="corrupt_frame"):
    summary = "damage one frame (its last byte flipped: a bad CRC in an event stream)"
    shape_order = 50  # after rewrites of the framing, before byte splitting

    def apply(self, plan: Plan) -> None:
        i = plan.index_after_tokens(self.token_position(plan))
        plan.insert(i, CorruptNext(), plan.time_at(i))

    def shape(self, items: Iterator[Item]) -> Iterator[Item]:
        pending = 0
        for item in items:
            if isinstance(item, Timed) and isinstance(item.event, CorruptNext):
                pending += 1
                continue
            if pending and isinstance(item, Frame) and item.data:
                pending -= 1
                item = Frame(item.at, flip_last_byte(item.data))
            yield item
