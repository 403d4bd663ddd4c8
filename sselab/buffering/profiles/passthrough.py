"""No middlebox behaviour: every upstream read is written downstream at once (the baseline)."""

from __future__ import annotations

from dataclasses import dataclass

from .._http import BodyReader, Head
from ..stages import Deframe
from .base import Plan, Profile, RequestInfo, forwardable, register


@dataclass(frozen=True)
class Passthrough:
    upstream_version: str = "1.1"
    max_head: int = 65536

    def plan(self, request: RequestInfo, head: Head) -> Plan:
        stage = Deframe(BodyReader.for_head(head, request.method))
        return Plan(head.status, head.reason, forwardable(head), stage, mode="passthrough")


PROFILE = register(Profile(
    name="passthrough",
    summary="a proxy that forwards every read immediately (the baseline)",
    trigger="never buffers",
    symptom="none: events arrive as the upstream writes them",
    fix="nothing to fix",
    behaviour=Passthrough(),
))
