"""sselab's Toxiproxy-compatible fault proxy: the Toxiproxy 2.x HTTP API and TCP proxy in asyncio.

Any Toxiproxy client (``toxiproxy-python``, the Go client, ``toxiproxy-cli``) drives it
unchanged. ``ToxiproxyServer`` runs it in your event loop, ``start_in_thread`` in a background
thread; ``sselab.toxiproxy.testing`` gives a ready client (embedded or a real server).
"""

from __future__ import annotations

from .api import VERSION, make_app
from .errors import ApiError
from .server import ThreadedToxiproxy, ToxiproxyServer, start_in_thread
from .toxics import Chunk, Stub, register, toxic_types

__all__ = [
    "VERSION",
    "ApiError",
    "Chunk",
    "Stub",
    "ThreadedToxiproxy",
    "ToxiproxyServer",
    "make_app",
    "register",
    "start_in_thread",
    "toxic_types",
]
