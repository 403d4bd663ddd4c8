"""Bedrock ConverseStream (AWS event stream) and Converse (one JSON body): ``contentBlockDelta``
text, reasoning and tool input, ``contentBlockStart`` a tool use, ``messageStop`` the finish,
``metadata`` the usage and end marker, an exception frame a mid-stream error."""

from __future__ import annotations

import json
from typing import Any

from ._common import Builder, TimedPieces, frames, kind_of, loads

FORMATS = ("bedrock_converse",)
STREAMS = True
STOP = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
        "tool_use": "tool_calls", "content_filtered": "content_filter",
        "guardrail_intervened": "content_filter"}


def exception(b: Builder, at: float, headers: dict[str, object], payload: bytes) -> None:
    obj = loads(payload)
    name = headers.get(":exception-type") or headers.get(":error-code") or "error"
    message = obj.get("message") if isinstance(obj, dict) else None
    b.error(at, message or headers.get(":error-message") or name, kind_of(name))


def stream(b: Builder, pieces: TimedPieces) -> None:
    tools: set[Any] = set()
    for at, m in frames(pieces):
        if m.headers.get(":message-type") in ("exception", "error"):
            exception(b, at, m.headers, m.payload)
            continue
        obj = loads(m.payload)
        if not isinstance(obj, dict):
            b.malformed(at, m.payload.decode("utf-8", "replace"))
            continue
        kind, index = m.headers.get(":event-type"), obj.get("contentBlockIndex")
        if kind == "contentBlockStart":
            use = (obj.get("start") or {}).get("toolUse")
            if isinstance(use, dict):
                tools.add(index)
                b.tool_start(at, index, use.get("toolUseId"), use.get("name"))
        elif kind == "contentBlockDelta":
            delta = obj.get("delta") or {}
            b.text(at, delta.get("text"))
            b.thinking(at, (delta.get("reasoningContent") or {}).get("text"))
            if isinstance(delta.get("toolUse"), dict):
                b.tool_delta(at, index, delta["toolUse"].get("input"))
        elif kind == "contentBlockStop" and index in tools:
            b.tool_end(at, index)
        elif kind == "messageStop":
            b.finish(at, STOP.get(obj.get("stopReason", ""), "stop"))
        elif kind == "metadata":
            usage = obj.get("usage") or {}
            b.usage(at, usage.get("inputTokens"), usage.get("outputTokens"))
            b.terminated = True


def body(b: Builder, obj: dict[str, Any], at: float) -> None:
    message = (obj.get("output") or {}).get("message") or {}
    for i, block in enumerate(message.get("content") or []):
        if not isinstance(block, dict):
            continue
        b.text(at, block.get("text"))
        reasoning = (block.get("reasoningContent") or {}).get("reasoningText") or {}
        b.thinking(at, reasoning.get("text"))
        if isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            b.tool_whole(at, i, use.get("toolUseId"), use.get("name"),
                         json.dumps(use.get("input", {}), ensure_ascii=False))
    usage = obj.get("usage") or {}
    b.usage(at, usage.get("inputTokens"), usage.get("outputTokens"))
    b.finish(at, STOP.get(obj.get("stopReason", ""), "stop"))
    b.terminated = True
