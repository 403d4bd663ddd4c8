"""Bedrock InvokeModelWithResponseStream for Anthropic models: each ``chunk`` event carries one
Anthropic Messages event, base64-encoded (read by ``anthropic``); an exception frame is a
mid-stream error. InvokeModel's JSON body is Anthropic's own."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from . import anthropic
from ._common import Builder, TimedPieces, frames, loads
from .bedrock_converse import exception

FORMATS = ("bedrock_invoke",)
STREAMS = True


def stream(b: Builder, pieces: TimedPieces) -> None:
    st = anthropic.State()
    for at, m in frames(pieces):
        if m.headers.get(":message-type") in ("exception", "error"):
            exception(b, at, m.headers, m.payload)
            continue
        outer = loads(m.payload)
        raw = outer.get("bytes") if isinstance(outer, dict) else None
        try:
            inner = loads(base64.b64decode(raw or "", validate=True))
        except (binascii.Error, ValueError):
            inner = None
        if isinstance(inner, dict):
            anthropic.event(b, at, inner, st)
        else:
            b.malformed(at, m.payload.decode("utf-8", "replace"))


def body(b: Builder, obj: dict[str, Any], at: float) -> None:
    anthropic.body(b, obj, at)
