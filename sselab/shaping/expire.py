"""``expire``: the server forgets a resumable stream ``after_ms`` after its request arrived.

From then on a resume gets the format's answer for a stream that is gone: plain SSE ``410``, a
Responses id ``404``, a UI chat ``204`` (nothing to resume). A connection still attached goes
on to its end: only the stored stream is gone.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..scenario.schema import doc
from ..scenario.validate import Where
from .base import Fault


@dataclass(frozen=True)
class ExpireFault(Fault, type="expire"):
    summary = "a resumable stream can no longer be resumed `after_ms` after its request"
    after_ms: float = doc("milliseconds after the request when the stream is forgotten")

    def check(self, where: Where, path: str, token_count: int) -> None:
        if self.after_ms < 0:
            raise where.error(f"{path}.after_ms", f"must be 0 or more; got {self.after_ms}")
