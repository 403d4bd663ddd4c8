"""``close``: close the connection cleanly (TCP FIN) mid-body after N tokens."""

from __future__ import annotations

from dataclasses import dataclass

from ..script.build import Plan
from ..script.events import Close
from .base import Positioned


@dataclass(frozen=True)
class CloseFault(Positioned, type="close"):
    summary = "close the connection (FIN) mid-stream, without finishing the HTTP body"
    terminal = True

    def apply(self, plan: Plan) -> None:
        i = plan.index_after_tokens(self.token_position(plan))
        at = plan.time_at(i)
        plan.truncate(i)
        plan.insert(i, Close(), at)
