"""sselab's plain SSE (``/sse``): ``token`` and ``thinking`` events, whole ``tool_call`` events,
``done`` (finish reason and usage; the end marker), ``error`` (message and neutral kind)."""

from __future__ import annotations

from typing import Any

from ._common import Builder, TimedPieces, loads, sse

FORMATS = ("plain_sse",)
STREAMS = True


def stream(b: Builder, pieces: TimedPieces) -> None:
    for at, ev in sse(pieces):
        obj = loads(ev.data)
        if not isinstance(obj, dict):
            b.malformed(at, ev.data)
        elif ev.event == "token":
            b.text(at, obj.get("text"))
        elif ev.event == "thinking":
            b.thinking(at, obj.get("text"))
        elif ev.event == "tool_call":
            b.tool_whole(at, obj.get("index"), obj.get("id"), obj.get("name"),
                         obj.get("arguments", ""))
        elif ev.event == "done":
            usage = obj.get("usage") or {}
            b.usage(at, usage.get("input_tokens"), usage.get("output_tokens"))
            b.finish(at, str(obj.get("finish_reason") or "stop"))
            b.terminated = True
        elif ev.event == "error":
            b.error(at, obj.get("message"), str(obj.get("kind") or "server_error"))


def body(b: Builder, obj: dict[str, Any], at: float) -> None:
    b.thinking(at, obj.get("thinking"))
    b.text(at, obj.get("text"))
    for i, call in enumerate(obj.get("tool_calls") or []):
        if isinstance(call, dict):
            b.tool_whole(at, i, call.get("id"), call.get("name"), call.get("arguments", ""))
    b.finish(at, str(obj.get("finish_reason") or "stop"))
    b.terminated = True
