"""``resume_error``: resuming the stream fails: the first ``times`` resume requests get an HTTP
error (``status``) in the format's own error shape, as a server that lost the stream or is
overloaded answers. ``times: 0`` fails every resume. The original connection is not affected."""

from __future__ import annotations

from dataclasses import dataclass

from ..scenario.schema import doc
from ..scenario.validate import Where
from .base import Fault


@dataclass(frozen=True)
class ResumeErrorFault(Fault, type="resume_error"):
    summary = "resume requests fail with an HTTP error (the first `times` of them, 0: all)"
    status: int = doc("the HTTP status a failed resume gets", default=503)
    times: int = doc("how many resume requests fail before one succeeds (0: every one)",
                     default=1)
    message: str = doc("the error message", default="sselab: resuming this stream failed")

    def check(self, where: Where, path: str, token_count: int) -> None:
        if not 400 <= self.status <= 599:
            raise where.error(f"{path}.status", f"must be an HTTP error status (400-599); got "
                                                f"{self.status}")
        if self.times < 0:
            raise where.error(f"{path}.times", f"must be 0 or more; got {self.times}")

    def fails(self, attempt: int) -> bool:
        """Whether resume attempt ``attempt`` (from 1) fails."""
        return self.times == 0 or attempt <= self.times
