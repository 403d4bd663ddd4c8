"""``stall``: after N tokens send nothing for ``ms`` (or ``forever``), optionally with keep-alives.

While stalled, the writer sends the format's keep-alive (an SSE comment, or Anthropic's ``ping``
event) every ``keepalive_ms`` if given. A ``forever`` stall ends only when the client goes away
(or the server's ``max_stall`` bound, so that no stream is truly endless).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..scenario.validate import Where
from ..script.build import Plan
from ..script.events import Stall
from .base import Positioned, non_negative


@dataclass(frozen=True)
class StallFault(Positioned, type="stall"):
    summary = "send nothing for ms (or forever) after N tokens, optionally with keep-alives"
    ms: float | None = None
    forever: bool = False
    keepalive_ms: float | None = None

    def ends_stream(self) -> bool:
        return self.forever

    def check(self, where: Where, path: str, token_count: int) -> None:
        super().check(where, path, token_count)
        if (self.ms is None) == (not self.forever):
            raise where.error(path, "give exactly one of ms or forever: true")
        non_negative(where, path, ms=self.ms)
        if self.keepalive_ms is not None and self.keepalive_ms <= 0:
            raise where.error(f"{path}.keepalive_ms", f"must be more than 0; got "
                                                      f"{self.keepalive_ms}")

    def apply(self, plan: Plan) -> None:
        i = plan.index_after_tokens(self.token_position(plan))
        at = plan.time_before(i)
        keepalive = self.keepalive_ms / 1000.0 if self.keepalive_ms else None
        if self.forever:
            plan.truncate(i)
            plan.insert(i, Stall(None, keepalive), at)
            return
        seconds = (self.ms or 0.0) / 1000.0
        # the stall starts after the previous token: what follows moves by its length
        if i < len(plan.events):
            plan.shift(i, max(0.0, at + seconds - plan.events[i].at))
        plan.insert(i, Stall(seconds, keepalive), at)
