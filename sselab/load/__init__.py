"""``sselab load``: load tests of a team's own streaming endpoint, on Locust.

``StreamUser`` is a Locust ``User`` that streams from the endpoint (``sselab check``'s request,
extraction and header options) and reports TTFT, inter-token gaps, tokens/s and outcomes per
stream, as Locust request statistics and as an sselab summary::

    from sselab.load import StreamUser

    class Chat(StreamUser):
        host = "http://127.0.0.1:8000"
        path = "/api/chat"

Importing ``StreamUser`` imports Locust, which monkey-patches the process for gevent; it is
loaded on first use, so ``import sselab`` and ``import sselab.load`` never import Locust.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .hist import Hist
from .options import LoadOptions
from .report import LoadReport
from .stats import Aggregate, StreamResult

if TYPE_CHECKING:
    from .user import StreamUser, install

__all__ = ["Aggregate", "Hist", "LoadOptions", "LoadReport", "StreamResult", "StreamUser",
           "install"]


def __getattr__(name: str) -> Any:
    if name in ("StreamUser", "install"):
        from . import user

        return getattr(user, name)
    raise AttributeError(f"module 'sselab.load' has no attribute {name!r}")
