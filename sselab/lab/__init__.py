"""The lab: ``/_sselab/ui`` on every simulator (requests as they happen, each one's timeline
and byte log) and ``sselab demo`` (the reference chat with controls around it).

The simulator's app calls :func:`add_routes` once and :func:`remember` once per request; the
demo (:mod:`sselab.lab.demo`) is imported only by its command.
"""

from __future__ import annotations

from aiohttp import web

from ..encoders import RequestInfo
from .routes import SEEN_KEY
from .routes import add as add_routes


def remember(app: web.Application, req: RequestInfo) -> None:
    """Keep the request the handler is answering, for its byte log (the last few dozen)."""
    seen = app.get(SEEN_KEY)
    if seen is not None:
        seen.keep(req)


__all__ = ["add_routes", "remember"]
