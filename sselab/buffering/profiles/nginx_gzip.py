"""nginx with ``gzip on; gzip_types text/event-stream;`` on top of its proxy defaults.

Measured on nginx 1.22: buffered proxying feeds the gzip filter without flushes, so compressed
bytes leave only in whole 4 KiB gzip buffers or at the end — and SSE compresses so well that a
typical stream never fills one. ``Cache-Control: no-transform`` does not stop nginx's gzip, and
``proxy_http_version 1.1`` no longer helps. ``X-Accel-Buffering: no`` does: unbuffered reads
are flushed, and the gzip filter then ends every read with a sync flush (a few bytes per event).
"""

from __future__ import annotations

from .base import Profile, register
from .nginx import Nginx

PROFILE = register(Profile(
    name="nginx-gzip",
    summary="nginx defaults plus gzip on for text/event-stream",
    trigger="client sends Accept-Encoding: gzip and the response is text/event-stream",
    symptom="the whole stream arrives at the end (compressed output leaves only in full "
            "4 KiB gzip buffers); Cache-Control: no-transform does not help",
    fix="send X-Accel-Buffering: no (gzip then sync-flushes every read), or drop "
        "text/event-stream from gzip_types",
    behaviour=Nginx(gzip=True, gzip_types=("text/html", "text/event-stream")),
))
