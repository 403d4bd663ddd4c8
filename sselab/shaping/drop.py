"""``drop``: the connection breaks after N tokens; with ``resumable: true`` the stream lives on.

Without ``resumable`` it is ``reset`` (or ``close`` with ``how: close``): the stream ends. With
it, only the client's connection breaks: a resumable stream (plain SSE with event ids, a
Responses ``background`` response, a UI message stream with a chat id) goes on generating, and
the client can pick it up again (``Last-Event-ID``, ``GET /v1/responses/{id}?stream=true&
starting_after=N``, ``GET /ui/chat/{id}/stream``). A drop breaks the connection that is attached
when it comes due; a connection that resumes past it replays through it unharmed. In a format
that cannot be resumed the connection just breaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..scenario.schema import doc
from ..script.build import Plan
from ..script.events import Close, Drop, Reset
from .base import Positioned


@dataclass(frozen=True)
class DropFault(Positioned, type="drop"):
    summary = ("break the connection after N tokens; with `resumable: true` the stream goes on "
               "and can be resumed")
    resumable: bool = doc("the stream lives on after the connection breaks", default=False)
    how: Literal["reset", "close"] = doc("how the connection breaks: RST or FIN",
                                         default="reset")

    def ends_stream(self) -> bool:
        return not self.resumable

    def apply(self, plan: Plan) -> None:
        i = plan.index_after_tokens(self.token_position(plan))
        at = plan.time_at(i)
        if not self.resumable:
            plan.truncate(i)
            plan.insert(i, Reset() if self.how == "reset" else Close(), at)
            return
        plan.insert(i, Drop(reset=self.how == "reset"), at)
