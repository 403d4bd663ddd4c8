"""A gateway that delivers only the complete response, as buffered serverless platforms do.

Models a buffered function/API-gateway integration: the upstream response is collected whole and
sent with a Content-Length once the upstream has finished. No response header changes that, so
the profile honours no header fix; the fix is a streaming integration. If the upstream fails
before it has finished the client gets a 502 (504 on a read timeout), never a partial body.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._http import BodyReader, Head
from ..stages import Collect, Deframe
from .base import Plan, Profile, RequestInfo, forwardable, register


@dataclass(frozen=True)
class FullBuffer:
    upstream_version: str = "1.1"
    max_head: int = 65536

    def plan(self, request: RequestInfo, head: Head) -> Plan:
        stage = Collect(Deframe(BodyReader.for_head(head, request.method)))
        headers = forwardable(head, frozenset({"content-length"}))
        return Plan(head.status, head.reason, headers, stage, headers_early=False,
                    content_length=True, mode="whole response")


PROFILE = register(Profile(
    name="full-buffer",
    summary="a buffering gateway: the client gets the complete response or nothing",
    trigger="any response through a buffered serverless/API-gateway integration",
    symptom="no byte (not even the head) until the upstream finishes, then everything "
            "with a Content-Length; an unfinished upstream becomes a 502/504",
    fix="no header helps: switch to the platform's streaming mode (response streaming, "
        "an edge/streaming runtime) or serve the stream from a non-buffered host",
    behaviour=FullBuffer(),
    read_timeout=30.0,
))
