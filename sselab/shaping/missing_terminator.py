"""``missing_terminator``: the stream ends without its terminator (``[DONE]``, message_stop...)."""

from __future__ import annotations

from dataclasses import dataclass

from ..script.build import Plan
from .base import Fault


@dataclass(frozen=True)
class MissingTerminatorFault(Fault, type="missing_terminator"):
    summary = "end the body without the format's terminator ([DONE], message_stop, ...)"

    def apply(self, plan: Plan) -> None:
        plan.terminate = False
