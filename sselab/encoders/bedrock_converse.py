"""AWS Bedrock Converse: ``POST /model/{modelId}/converse-stream`` (binary event stream) and
``POST /model/{modelId}/converse`` (one JSON body). The model id picks the scenario.

The stream is ``application/vnd.amazon.eventstream`` (framing in ``sselab.eventstream``), one
message per event, headers ``:event-type``, ``:content-type: application/json``,
``:message-type: event``, the JSON payload's keys in alphabetical order with a ``p`` pad::

    messageStart       {"p":"abc","role":"assistant"}                       at 0.0
    contentBlockDelta  {"contentBlockIndex":0,"delta":{"text":"Hel"},"p":"abcdefg"}
    contentBlockStop   {"contentBlockIndex":0,"p":"..."}
    contentBlockStart  {"contentBlockIndex":1,"p":"...","start":{"toolUse":{"name":"get_weather",
                        "toolUseId":"tooluse_..."}}}                        only tool use opens
    contentBlockDelta  {"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\\"city\\""}},"p":...}
    messageStop        {"p":"...","stopReason":"end_turn"}     end_turn | max_tokens | tool_use
    metadata           {"metrics":{"latencyMs":812},"p":"...","usage":{"inputTokens":12,
                        "outputTokens":40,"totalTokens":52}}                last: the terminator

``ThinkingDelta`` -> ``delta.reasoningContent.text``, the block closed by one
``reasoningContent.signature`` delta; ``content_filter`` -> ``stopReason: content_filtered``.
``ErrorEvent`` -> an exception frame (``throttlingException``, ``serviceUnavailableException``,
``modelStreamErrorException``, ``validationException``; see ``_bedrock.py``) and the stream ends;
``Malformed`` -> a ``contentBlockDelta`` event whose payload is the broken JSON;
``script.terminate == False`` omits ``metadata``. A stall sends nothing (no keep-alive exists).

Deliberate differences: ids (``tooluse_``, signatures) are seeded; ``latencyMs`` is the
script's last event time; the ``p`` lengths are seeded, not tied to the event's size.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any

from .. import eventstream
from ..script.events import (
    CONTROL_EVENTS,
    ErrorEvent,
    Finish,
    Malformed,
    Script,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from . import _bedrock
from ._common import finish_reason, parse_arguments, seed_digest, started_call, usage_counts
from .base import Frame, Inspection, Item, RequestInfo, WireFormat, register

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "content_filter": "content_filtered"}


def _signature(script: Script, req: RequestInfo, block: int) -> str:
    return base64.b64encode(seed_digest(script, req, f"sig{block}") * 2).decode()


def _usage(script: Script) -> dict[str, int]:
    inp, out = usage_counts(script)
    return {"inputTokens": inp, "outputTokens": out, "totalTokens": inp + out}


def _stream(script: Script, req: RequestInfo) -> Iterator[Item]:
    return _bedrock.control(_events(script, req))


def _events(script: Script, req: RequestInfo) -> Iterator[Item]:
    pad = _bedrock.Padding(script, req)

    def event(type_: str, **body: Any) -> bytes:
        return _bedrock.event(type_, body, pad)

    yield Frame(0.0, event("messageStart", role="assistant"))
    count = 0
    current: tuple[int, str] | None = None  # the open text/reasoning block
    by_tool: dict[int, int] = {}  # ToolCallStart.index -> block index, while open

    def stop_current(at: float) -> Iterator[Frame]:
        nonlocal current
        if current is not None:
            index, kind = current
            if kind == "reasoning":
                yield Frame(at, event("contentBlockDelta", contentBlockIndex=index, delta={
                    "reasoningContent": {"signature": _signature(script, req, index)}}))
            yield Frame(at, event("contentBlockStop", contentBlockIndex=index))
            current = None

    for timed in script.events:
        ev, at = timed.event, timed.at
        t = type(ev)
        if t is TextDelta or t is ThinkingDelta:
            kind = "text" if t is TextDelta else "reasoning"
            if current is None or current[1] != kind:
                yield from stop_current(at)
                current, count = (count, kind), count + 1
            delta = {"text": ev.text} if t is TextDelta else {
                "reasoningContent": {"text": ev.text}}
            yield Frame(at, event("contentBlockDelta", contentBlockIndex=current[0], delta=delta))
        elif t is ToolCallStart:
            yield from stop_current(at)
            by_tool[ev.index], count = count, count + 1
            yield Frame(at, event("contentBlockStart", contentBlockIndex=by_tool[ev.index],
                                  start={"toolUse": {"name": ev.name,
                                                     "toolUseId": _bedrock.tool_use_id(
                                                         ev.call_id)}}))
        elif t is ToolCallDelta:
            yield Frame(at, event("contentBlockDelta",
                                  contentBlockIndex=started_call(by_tool, ev.index),
                                  delta={"toolUse": {"input": ev.arguments}}))
        elif t is ToolCallEnd:
            yield Frame(at, event("contentBlockStop", contentBlockIndex=started_call(
                by_tool, ev.index)))
            by_tool.pop(ev.index)
        elif t is Finish:
            yield from stop_current(at)
            for index in sorted(by_tool):
                yield Frame(at, event("contentBlockStop", contentBlockIndex=by_tool.pop(index)))
            yield Frame(at, event("messageStop",
                                  stopReason=finish_reason(STOP_REASONS, ev.reason)))
            if script.terminate:
                yield Frame(at, event("metadata", metrics={"latencyMs": round(at * 1000)},
                                      usage=_usage(script)))
        elif t is ErrorEvent:
            yield Frame(at, _bedrock.exception_frame(ev.kind, ev.message))
            return
        elif t is Malformed:
            yield Frame(at, eventstream.event("contentBlockDelta", ev.raw.encode()))
        elif isinstance(ev, CONTROL_EVENTS):
            yield timed


def _complete(script: Script, req: RequestInfo) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if script.thinking:
        content.append({"reasoningContent": {"reasoningText": {
            "signature": _signature(script, req, 0), "text": script.thinking}}})
    if script.text or not script.tool_calls:
        content.append({"text": script.text})
    for i, call in enumerate(script.tool_calls):
        content.append({"toolUse": {
            "input": parse_arguments(f"tool_calls[{i}].arguments", call.arguments),
            "name": call.name, "toolUseId": _bedrock.tool_use_id(call.call_id)}})
    last = max((t.at for t in script.events), default=0.0)
    return {"metrics": {"latencyMs": round(last * 1000)},
            "output": {"message": {"content": content, "role": "assistant"}},
            "stopReason": finish_reason(STOP_REASONS, script.finish_reason),
            "usage": _usage(script)}


def _inspect(body: dict[str, Any], path_params: Mapping[str, str],
             query: Mapping[str, str]) -> Inspection:
    return _bedrock.inspect_path(path_params)


FORMAT = register(WireFormat(
    name="bedrock_converse",
    description="AWS Bedrock ConverseStream / Converse: binary event stream (messageStart ... "
                "metadata)",
    routes=(("POST", "/model/{modelId}/{action:converse-stream|converse}"),),
    inspect=_inspect,
    stream=_stream,
    complete=_complete,
    error=_bedrock.error,
    headers=_bedrock.headers,
    content_type=_bedrock.CONTENT_TYPE,
    keepalive=b"",
))

__all__ = ["FORMAT", "STOP_REASONS"]
