"""``slow_start``: the first token (and so everything after it) comes ``ms`` later.

Response headers still go out at once, as the providers send them before the first token.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..scenario.validate import Where
from ..script.build import Plan
from .base import Fault, non_negative


@dataclass(frozen=True)
class SlowStartFault(Fault, type="slow_start"):
    summary = "delay the first token (and all that follows) by ms"
    ms: float = 5000.0

    def check(self, where: Where, path: str, token_count: int) -> None:
        non_negative(where, path, ms=self.ms)

    def apply(self, plan: Plan) -> None:
        plan.shift(0, self.ms / 1000.0)
