"""OpenAI Responses (and Azure's): typed ``response.*`` events.

``response.output_text.delta`` is text, ``response.reasoning_summary_text.delta`` /
``response.reasoning_text.delta`` thinking; a ``function_call`` output item is a tool call (its
``call_id`` and ``name``; ``response.function_call_arguments.delta`` its arguments);
``response.completed`` / ``response.incomplete`` the usage, the finish and the end marker;
``error`` (nested or flat) or ``response.failed`` a mid-stream error.
"""

from __future__ import annotations

from typing import Any

from ._common import Builder, TimedPieces, kind_of, loads, sse

FORMATS = ("openai_responses", "azure_responses")
STREAMS = True
_THINKING = ("response.reasoning_summary_text.delta", "response.reasoning_text.delta")
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _key(obj: dict[str, Any]) -> Any:
    return obj.get("item_id") or obj.get("output_index")


def _finish(b: Builder, at: float, response: Any, kind: str) -> None:
    response = response if isinstance(response, dict) else {}
    usage = response.get("usage")
    if isinstance(usage, dict):
        b.usage(at, usage.get("input_tokens"), usage.get("output_tokens"))
    if kind == "response.incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        b.finish(at, _INCOMPLETE.get(reason, "length"))
    else:
        b.finish(at, "tool_calls" if b.has_tool_calls else "stop")
    b.terminated = True


def event(b: Builder, at: float, obj: dict[str, Any]) -> None:
    kind = str(obj.get("type", ""))
    if kind == "response.output_text.delta":
        b.text(at, obj.get("delta"))
    elif kind in _THINKING:
        b.thinking(at, obj.get("delta"))
    elif kind == "response.output_item.added":
        item = obj.get("item") or {}
        if item.get("type") == "function_call":
            b.tool_start(at, item.get("id") or obj.get("output_index"), item.get("call_id"),
                         item.get("name"))
    elif kind == "response.function_call_arguments.delta":
        b.tool_delta(at, _key(obj), obj.get("delta"))
    elif kind == "response.output_item.done":
        item = obj.get("item") or {}
        if item.get("type") == "function_call":
            b.tool_end(at, item.get("id") or obj.get("output_index"))
    elif kind in ("response.completed", "response.incomplete"):
        _finish(b, at, obj.get("response"), kind)
    elif kind == "error":
        err = obj.get("error") if isinstance(obj.get("error"), dict) else obj
        b.error(at, err.get("message"), kind_of(err.get("code"), err.get("type")))
    elif kind == "response.failed":
        err = (obj.get("response") or {}).get("error") or {}
        b.error(at, err.get("message") or "response.failed", kind_of(err.get("code")))


def stream(b: Builder, pieces: TimedPieces) -> None:
    for at, ev in sse(pieces):
        obj = loads(ev.data)
        if isinstance(obj, dict):
            event(b, at, obj)
        elif ev.data.strip() != "[DONE]":
            b.malformed(at, ev.data)


def body(b: Builder, obj: dict[str, Any], at: float) -> None:
    for i, item in enumerate(obj.get("output") or []):
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call":
            b.tool_whole(at, i, item.get("call_id"), item.get("name"), item.get("arguments"))
        for part in item.get("content") or item.get("summary") or []:
            text = part.get("text") if isinstance(part, dict) else None
            if item.get("type") == "reasoning":
                b.thinking(at, text)
            else:
                b.text(at, text)
    _finish(b, at, obj, "response.incomplete" if obj.get("status") == "incomplete"
            else "response.completed")
