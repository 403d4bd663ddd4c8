"""The Vercel AI SDK UI message stream: ``text-delta`` / ``reasoning-delta`` chunks, tool input
(``tool-input-start``, ``-delta``, ``-available``), ``finish`` (the finish and the end marker),
``error`` (``errorText``) a mid-stream error; ``[DONE]`` is framing only."""

from __future__ import annotations

import json
from typing import Any

from ._common import Builder, TimedPieces, loads, sse

FORMATS = ("vercel_ui_stream",)
STREAMS = True
FINISH = {"stop": "stop", "length": "length", "tool-calls": "tool_calls",
          "content-filter": "content_filter"}


def stream(b: Builder, pieces: TimedPieces) -> None:
    args_seen: set[Any] = set()
    for at, ev in sse(pieces):
        if ev.data.strip() == "[DONE]":
            continue
        obj = loads(ev.data)
        if not isinstance(obj, dict):
            b.malformed(at, ev.data)
            continue
        kind, call = obj.get("type"), obj.get("toolCallId")
        if kind == "text-delta":
            b.text(at, obj.get("delta", obj.get("textDelta")))
        elif kind == "reasoning-delta":
            b.thinking(at, obj.get("delta"))
        elif kind == "tool-input-start":
            b.tool_start(at, call, call, obj.get("toolName"))
        elif kind == "tool-input-delta":
            args_seen.add(call)
            b.tool_delta(at, call, obj.get("inputTextDelta"))
        elif kind == "tool-input-available":
            b.tool_start(at, call, call, obj.get("toolName"))
            if call not in args_seen:
                b.tool_delta(at, call, json.dumps(obj.get("input", {}), ensure_ascii=False))
            b.tool_end(at, call)
        elif kind == "finish":
            b.finish(at, FINISH.get(str(obj.get("finishReason")), "stop"))
            b.terminated = True
        elif kind == "error":
            b.error(at, obj.get("errorText"), "server_error")


def body(b: Builder, obj: dict[str, Any], at: float) -> None:
    for part in obj.get("parts") or []:
        if isinstance(part, dict) and part.get("type") == "text":
            b.text(at, part.get("text"))
        elif isinstance(part, dict) and part.get("type") == "reasoning":
            b.thinking(at, part.get("text"))
    b.finish(at, "stop")
    b.terminated = True
