"""``error_event``: the provider's own mid-stream error event after N tokens; the stream ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..script.build import Plan
from ..script.events import ErrorEvent
from .base import Positioned

Kind = Literal["overloaded", "server_error", "rate_limit", "invalid_request", "unavailable"]


@dataclass(frozen=True)
class ErrorEventFault(Positioned, type="error_event"):
    summary = "send the provider's mid-stream error event, then end the stream"
    terminal = True
    message: str = "Overloaded"
    kind: Kind = "overloaded"

    def apply(self, plan: Plan) -> None:
        i = plan.index_after_tokens(self.token_position(plan))
        at = plan.time_at(i)
        plan.truncate(i)
        plan.insert(i, ErrorEvent(self.message, self.kind), at)
