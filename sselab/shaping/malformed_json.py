"""``malformed_json``: one frame whose JSON payload is broken, inserted after N tokens."""

from __future__ import annotations

from dataclasses import dataclass

from ..script.build import Plan
from ..script.events import Malformed
from .base import Positioned


@dataclass(frozen=True)
class MalformedJsonFault(Positioned, type="malformed_json"):
    summary = "insert one frame whose JSON is broken"
    raw: str = '{"choices": [{"delta": {"content": "unterminated'

    def apply(self, plan: Plan) -> None:
        i = plan.index_after_tokens(self.token_position(plan))
        plan.insert(i, Malformed(self.raw), plan.time_at(i))
