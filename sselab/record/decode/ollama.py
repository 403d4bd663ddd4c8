"""Ollama's native API (NDJSON lines, or one object with ``"stream": false``): ``message.content``
/ ``response`` text, ``thinking`` thinking, ``message.tool_calls`` whole tool calls, the
``done: true`` line the usage (``prompt_eval_count``, ``eval_count``), finish and end marker,
``{"error": ...}`` a mid-stream error."""

from __future__ import annotations

from typing import Any

from ._common import Builder, TimedPieces, lines, loads

FORMATS = ("ollama",)
STREAMS = True


def line(b: Builder, at: float, obj: dict[str, Any]) -> None:
    if obj.get("error"):
        b.error(at, obj["error"], "server_error")
        return
    message = obj.get("message") if isinstance(obj.get("message"), dict) else {}
    b.thinking(at, message.get("thinking") or obj.get("thinking"))
    b.text(at, message.get("content") if message else obj.get("response"))
    for call in message.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        fn = call.get("function") or {}
        b.tool_whole(at, ("call", len(b.events)), call.get("id"), fn.get("name"),
                     fn.get("arguments", {}))
    if obj.get("done") is True:
        b.usage(at, obj.get("prompt_eval_count"), obj.get("eval_count"))
        reason = obj.get("done_reason")
        b.finish(at, "length" if reason == "length" else
                 "tool_calls" if b.has_tool_calls else "stop")
        b.terminated = True


def stream(b: Builder, pieces: TimedPieces) -> None:
    for at, text in lines(pieces):
        obj = loads(text)
        if isinstance(obj, dict):
            line(b, at, obj)
        else:
            b.malformed(at, text)


def body(b: Builder, obj: dict[str, Any], at: float) -> None:
    line(b, at, obj)
