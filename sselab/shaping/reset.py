"""``reset``: abort the connection with a TCP RST after N tokens."""

from __future__ import annotations

from dataclasses import dataclass

from ..script.build import Plan
from ..script.events import Reset
from .base import Positioned


@dataclass(frozen=True)
class ResetFault(Positioned, type="reset"):
    summary = "reset the connection (RST) mid-stream"
    terminal = True

    def apply(self, plan: Plan) -> None:
        i = plan.index_after_tokens(self.token_position(plan))
        at = plan.time_at(i)
        plan.truncate(i)
        plan.insert(i, Reset(), at)
