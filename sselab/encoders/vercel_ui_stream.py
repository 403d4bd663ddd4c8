"""Vercel AI SDK UI message stream (protocol ``v1``, ``ai`` 5.x-7.x): ``POST /ui/chat``.

What a route handler returning ``result.toUIMessageStreamResponse()`` sends to ``useChat``: one
``data: {chunk}`` SSE event per chunk, compact JSON as ``JSON.stringify`` writes it, then
``data: [DONE]``; the response carries ``x-vercel-ai-ui-message-stream: v1`` and
``x-accel-buffering: no`` (both set by the ``ai`` package's ``UI_MESSAGE_STREAM_HEADERS``)::

    {"type":"start","messageId":"..."}            at 0.0
    {"type":"start-step"}                         at 0.0
    {"type":"reasoning-start","id":"reasoning-0"} / reasoning-delta {id, delta} / reasoning-end
    {"type":"text-start","id":"text-0"}           / text-delta {id, delta}     / text-end
    {"type":"tool-input-start","toolCallId","toolName"}, tool-input-delta {toolCallId,
        inputTextDelta}, tool-input-available {toolCallId, toolName, input} at ToolCallEnd
    {"type":"finish-step"}, {"type":"finish","finishReason":"stop"|"length"|"tool-calls"}
    [DONE]

A text or reasoning part is started by its first delta and ended when another part starts or at
``Finish``. ``ErrorEvent`` -> ``{"type":"error","errorText":...}`` (``useChat`` sets its error
state) and the stream ends; ``Malformed`` -> a ``data:`` event with broken JSON, which
``DefaultChatTransport`` rejects. ``Usage`` sends nothing: the protocol has no usage chunk.

The request is ``useChat``'s body (``id``, ``messages[].parts``, ``trigger``, ``messageId``, plus
whatever the app adds): ``inspect`` reads an optional ``model`` field from it; the request is
always a stream.

Deliberate differences:

* ``script.terminate == False`` omits ``finish`` and ``[DONE]`` (``finish-step`` stays): the
  client parser skips ``[DONE]``, so ``finish`` is the marker a client can miss.
* after an ``error`` chunk sselab still sends ``[DONE]`` when the script terminates, as the
  ``ai`` package's SSE transform does when the stream closes after an error.
* ids are seeded: ``messageId`` is 16 alphanumerics like ``generateId()``; part ids are
  ``text-N`` / ``reasoning-N`` (providers supply their own).
* the AI SDK prescribes no error body for a failed request; sselab answers
  ``{"error": {"message", "type"}}`` (``useChat`` shows the body text as the error message) with
  ``retry-after`` when set.
* ``complete`` (never asked for by ``useChat``) returns the assembled ``UIMessage``.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from typing import Any

from ..script.events import (
    CONTROL_EVENTS,
    ErrorEvent,
    Finish,
    HttpError,
    Malformed,
    Script,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from ._common import (
    finish_reason,
    json_str,
    model_field,
    parse_arguments,
    retry_after,
    seeded_id,
    started_call,
)
from .base import Frame, Inspection, Item, RequestInfo, WireFormat, register
from .sse_frame import sse, sse_json

DONE = b"data: [DONE]\n\n"
HEADERS = {"x-vercel-ai-ui-message-stream": "v1", "x-accel-buffering": "no"}
KEEPALIVE = b": keep-alive\n\n"  # the ai package's own keep-alive comment
FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "tool-calls",
                  "content_filter": "content-filter"}

_ALNUM = string.digits + string.ascii_uppercase + string.ascii_lowercase


def message_id(script: Script, req: RequestInfo) -> str:
    return seeded_id(script, req, "uimsg", _ALNUM, 16)


class _Parts:
    """The open text/reasoning part, and the constant bytes around its deltas."""

    def __init__(self) -> None:
        self.kind: str | None = None  # "text" | "reasoning" | None
        self.id = ""
        self.counts = {"text": 0, "reasoning": 0}
        self.tpl = (b"", b"")

    def start(self, kind: str) -> list[bytes]:
        out = self.end()
        self.kind, self.id = kind, f"{kind}-{self.counts[kind]}"
        self.counts[kind] += 1
        out.append(sse_json({"type": f"{kind}-start", "id": self.id}))
        head = f'data: {{"type":"{kind}-delta","id":{json_str(self.id)},"delta":'
        self.tpl = (head.encode(), b"}\n\n")
        return out

    def end(self) -> list[bytes]:
        if self.kind is None:
            return []
        out = [sse_json({"type": f"{self.kind}-end", "id": self.id})]
        self.kind = None
        return out


def _stream(script: Script, req: RequestInfo) -> Iterator[Item]:
    yield Frame(0.0, sse_json({"type": "start", "messageId": message_id(script, req)}))
    yield Frame(0.0, sse_json({"type": "start-step"}))
    parts = _Parts()
    calls: dict[int, list[str]] = {}  # ToolCallStart.index -> [call id, name, arguments]
    for timed in script.events:
        ev, at = timed.event, timed.at
        t = type(ev)
        if t is TextDelta or t is ThinkingDelta:
            kind = "text" if t is TextDelta else "reasoning"
            if parts.kind != kind:
                for data in parts.start(kind):
                    yield Frame(at, data)
            head, tail = parts.tpl
            yield Frame(at, head + json_str(ev.text).encode() + tail)
        elif t is ToolCallStart:
            for data in parts.end():
                yield Frame(at, data)
            calls[ev.index] = [ev.call_id, ev.name, ""]
            yield Frame(at, sse_json({"type": "tool-input-start", "toolCallId": ev.call_id,
                                      "toolName": ev.name}))
        elif t is ToolCallDelta:
            call = started_call(calls, ev.index)
            call[2] += ev.arguments
            yield Frame(at, sse_json({"type": "tool-input-delta", "toolCallId": call[0],
                                      "inputTextDelta": ev.arguments}))
        elif t is ToolCallEnd:
            call_id, name, arguments = started_call(calls, ev.index)
            yield Frame(at, sse_json({
                "type": "tool-input-available", "toolCallId": call_id, "toolName": name,
                "input": parse_arguments(f"tool call {ev.index} arguments", arguments)}))
        elif t is Finish:
            for data in parts.end():
                yield Frame(at, data)
            yield Frame(at, sse_json({"type": "finish-step"}))
            if script.terminate:
                finish = finish_reason(FINISH_REASONS, ev.reason)
                yield Frame(at, sse_json({"type": "finish", "finishReason": finish}))
                yield Frame(at, DONE)
        elif t is ErrorEvent:
            yield Frame(at, sse_json({"type": "error", "errorText": ev.message}))
            if script.terminate:
                yield Frame(at, DONE)
            return
        elif t is Malformed:
            yield Frame(at, sse(ev.raw))
        elif isinstance(ev, CONTROL_EVENTS):
            yield timed


def _complete(script: Script, req: RequestInfo) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"type": "step-start"}]
    if script.thinking:
        parts.append({"type": "reasoning", "text": script.thinking, "state": "done"})
    if script.text:
        parts.append({"type": "text", "text": script.text, "state": "done"})
    for i, call in enumerate(script.tool_calls):
        parts.append({"type": f"tool-{call.name}", "toolCallId": call.call_id,
                      "state": "input-available",
                      "input": parse_arguments(f"tool_calls[{i}].arguments", call.arguments)})
    return {"id": message_id(script, req), "role": "assistant", "parts": parts}


def _error(err: HttpError, req: RequestInfo) -> tuple[dict[str, Any], dict[str, str]]:
    headers = {} if err.retry_after is None else {"retry-after": retry_after(err.retry_after)}
    return {"error": {"message": err.message, "type": err.kind}}, headers


def _inspect(body: dict[str, Any], path_params: Mapping[str, str],
             query: Mapping[str, str]) -> Inspection:
    model = model_field(body)
    messages = body.get("messages")
    if messages is not None and not isinstance(messages, list):
        raise ValueError("messages: expected a list of UI messages")
    return Inspection(model=model, stream=True)


FORMAT = register(WireFormat(
    name="vercel_ui_stream",
    description="Vercel AI SDK UI message stream v1 (useChat's DefaultChatTransport)",
    routes=(("POST", "/ui/chat"),),
    inspect=_inspect,
    stream=_stream,
    complete=_complete,
    error=_error,
    headers=lambda req: dict(HEADERS),
    keepalive=KEEPALIVE,
))

__all__ = ["FORMAT", "message_id"]
