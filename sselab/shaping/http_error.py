"""``http_error``: answer with an HTTP error before any stream, in the provider's error shape."""

from __future__ import annotations

from dataclasses import dataclass

from ..encoders.base import kind_for_status
from ..scenario.validate import Where
from ..script.build import Plan
from ..script.events import HttpError
from .base import Fault, non_negative

_MESSAGES = {
    429: "Rate limit reached. Please try again later.",
    500: "The server had an error while processing your request.",
    503: "The service is temporarily unavailable.",
    529: "Overloaded",
}


@dataclass(frozen=True)
class HttpErrorFault(Fault, type="http_error"):
    summary = "answer HTTP 429/500/503/529... before the stream (retry-after optional)"
    terminal = True
    status: int = 500
    message: str | None = None
    retry_after: float | None = None

    def check(self, where: Where, path: str, token_count: int) -> None:
        if not 400 <= self.status <= 599:
            raise where.error(f"{path}.status", f"must be an HTTP error status (400-599); "
                                                f"got {self.status}")
        non_negative(where, path, retry_after=self.retry_after)

    def apply(self, plan: Plan) -> None:
        message = self.message or _MESSAGES.get(self.status, f"HTTP {self.status}")
        plan.http_error = HttpError(self.status, message, kind_for_status(self.status),
                                    self.retry_after)
