"""An in-app compression middleware (Express ``compression()`` defaults, Starlette's GZip).

The middleware pipes the body through zlib without flushing, so the client receives only the
gzip header and then whatever zlib chooses to emit: nothing until a deflate block is complete
(tens of KiB of input for typical SSE), then the rest at the end. Modelled on Express's
``compression``: level 6, compressible types only, skipped when the response has
``Cache-Control: no-transform``, a Content-Encoding, or a Content-Length under ``threshold``.
An app-side ``res.flush()`` after each event also fixes it but cannot be seen from a proxy.
Starlette's ``GZipMiddleware`` behaves the same way in versions that do not yet exclude
``text/event-stream`` (newer ones exclude it by default: set ``excluded_types`` to model them).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._http import BodyReader, Head
from ..stages import Deframe, Gzip
from .base import Plan, Profile, RequestInfo, forwardable, register


@dataclass(frozen=True)
class CompressionMiddleware:
    level: int = 6
    threshold: int = 1024
    compressible: tuple[str, ...] = ("text/", "application/json", "application/javascript",
                                     "application/xml", "+json", "+xml")
    excluded_types: tuple[str, ...] = ()
    honours_no_transform: bool = True
    upstream_version: str = "1.1"
    max_head: int = 65536

    def compresses(self, request: RequestInfo, head: Head) -> bool:
        ctype = (head.get("content-type") or "").split(";", 1)[0].strip().lower()
        length = head.get("content-length")
        return ("gzip" in request.header("accept-encoding").lower()
                and request.method != "HEAD"
                and any(ctype.startswith(t) or ctype.endswith(t) for t in self.compressible)
                and ctype not in self.excluded_types
                and not (head.get("content-encoding") or "")
                and not (self.honours_no_transform
                         and "no-transform" in (head.get("cache-control") or "").lower())
                and not (length and length.isdigit() and int(length) < self.threshold))

    def plan(self, request: RequestInfo, head: Head) -> Plan:
        stage = Deframe(BodyReader.for_head(head, request.method))
        headers = forwardable(head)
        if not self.compresses(request, head):
            return Plan(head.status, head.reason, headers, stage, mode="not compressed")
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        return Plan(head.status, head.reason, headers, Gzip(stage, level=self.level),
                    mode=f"gzip level {self.level}, no flush")


PROFILE = register(Profile(
    name="gzip-middleware",
    summary="an app-side compression middleware (Express compression(), old Starlette GZip)",
    trigger="client sends Accept-Encoding: gzip and the response type is compressible",
    symptom="the gzip header arrives, then nothing until zlib completes a block "
            "(often the end of the stream)",
    fix="Cache-Control: no-transform on the stream (Express), exclude text/event-stream from "
        "compression, or flush the compressor after each event (res.flush())",
    behaviour=CompressionMiddleware(),
))
