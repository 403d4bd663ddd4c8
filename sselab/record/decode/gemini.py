"""Gemini ``streamGenerateContent?alt=sse`` (one GenerateContentResponse per event) and
``generateContent``: text parts (``thought: true`` ones are thinking), ``functionCall`` parts
(whole tool calls), ``finishReason`` the finish and the end marker, ``usageMetadata`` the usage,
``{"error": ...}`` a mid-stream error."""

from __future__ import annotations

from typing import Any

from ._common import Builder, TimedPieces, kind_of, loads, sse

FORMATS = ("gemini",)
STREAMS = True
FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
          "RECITATION": "content_filter", "PROHIBITED_CONTENT": "content_filter",
          "BLOCKLIST": "content_filter", "SPII": "content_filter"}


def chunk(b: Builder, at: float, obj: dict[str, Any]) -> None:
    if obj.get("error"):
        err = obj["error"] if isinstance(obj["error"], dict) else {"message": obj["error"]}
        b.error(at, err.get("message"), kind_of(err.get("status")))
        return
    candidates = obj.get("candidates") or [{}]
    cand = candidates[0] if isinstance(candidates[0], dict) else {}
    for part in (cand.get("content") or {}).get("parts") or []:
        if not isinstance(part, dict):
            continue
        if "functionCall" in part:
            call = part["functionCall"] or {}
            b.tool_whole(at, ("call", len(b.events)), call.get("id"), call.get("name"),
                         call.get("args", {}))
        elif part.get("thought"):
            b.thinking(at, part.get("text"))
        else:
            b.text(at, part.get("text"))
    usage = obj.get("usageMetadata")
    if isinstance(usage, dict):
        b.usage(at, usage.get("promptTokenCount"), usage.get("candidatesTokenCount"))
    reason = cand.get("finishReason")
    if reason:
        b.finish(at, "tool_calls" if b.has_tool_calls and reason == "STOP"
                 else FINISH.get(reason, "stop"))
        b.terminated = True


def stream(b: Builder, pieces: TimedPieces) -> None:
    for at, ev in sse(pieces):
        obj = loads(ev.data)
        if isinstance(obj, dict):
            chunk(b, at, obj)
        else:
            b.malformed(at, ev.data)


def body(b: Builder, obj: dict[str, Any], at: float) -> None:
    chunk(b, at, obj)
