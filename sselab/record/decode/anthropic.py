"""Anthropic Messages: ``message_start`` ... ``message_stop`` events (also what Bedrock's
InvokeModel relays in its ``chunk`` events, see ``bedrock_invoke``).

Text and thinking deltas by type, a ``tool_use`` block a tool call (its ``input_json_delta``
fragments the arguments, ``content_block_stop`` its end), ``message_delta`` the stop reason and
output tokens, ``message_start`` the input tokens, ``event: error`` a mid-stream error,
``message_stop`` the end marker.
"""

from __future__ import annotations

import json
from typing import Any

from ._common import Builder, TimedPieces, kind_of, loads, sse

FORMATS = ("anthropic",)
STREAMS = True
STOP = {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
        "max_tokens": "length", "tool_use": "tool_calls", "refusal": "content_filter"}


class State:
    def __init__(self) -> None:
        self.input_tokens: int | None = None
        self.tools: set[Any] = set()


def event(b: Builder, at: float, obj: dict[str, Any], st: State) -> None:
    kind = obj.get("type")
    if kind == "message_start":
        usage = (obj.get("message") or {}).get("usage") or {}
        st.input_tokens = usage.get("input_tokens")
    elif kind == "content_block_start":
        block = obj.get("content_block") or {}
        if block.get("type") in ("tool_use", "server_tool_use"):
            st.tools.add(obj.get("index"))
            b.tool_start(at, obj.get("index"), block.get("id"), block.get("name"))
    elif kind == "content_block_delta":
        delta = obj.get("delta") or {}
        dtype = delta.get("type")
        if dtype == "text_delta":
            b.text(at, delta.get("text"))
        elif dtype == "thinking_delta":
            b.thinking(at, delta.get("thinking"))
        elif dtype == "input_json_delta":
            b.tool_delta(at, obj.get("index"), delta.get("partial_json"))
    elif kind == "content_block_stop":
        if obj.get("index") in st.tools:
            b.tool_end(at, obj.get("index"))
    elif kind == "message_delta":
        usage = obj.get("usage") or {}
        b.usage(at, usage.get("input_tokens", st.input_tokens), usage.get("output_tokens"))
        reason = (obj.get("delta") or {}).get("stop_reason")
        if reason:
            b.finish(at, STOP.get(reason, "stop"))
    elif kind == "message_stop":
        b.terminated = True
    elif kind == "error":
        err = obj.get("error") or {}
        b.error(at, err.get("message"), kind_of(err.get("type")))


def stream(b: Builder, pieces: TimedPieces) -> None:
    st = State()
    for at, ev in sse(pieces):
        obj = loads(ev.data)
        if isinstance(obj, dict):
            event(b, at, obj, st)
        else:
            b.malformed(at, ev.data)


def body(b: Builder, obj: dict[str, Any], at: float) -> None:
    for i, block in enumerate(obj.get("content") or []):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            b.text(at, block.get("text"))
        elif kind == "thinking":
            b.thinking(at, block.get("thinking"))
        elif kind == "tool_use":
            b.tool_whole(at, i, block.get("id"), block.get("name"),
                         json.dumps(block.get("input", {}), ensure_ascii=False))
    usage = obj.get("usage") or {}
    b.usage(at, usage.get("input_tokens"), usage.get("output_tokens"))
    b.finish(at, STOP.get(obj.get("stop_reason") or "end_turn", "stop"))
    b.terminated = True
