"""Anthropic Messages API: ``POST /v1/messages``, streamed (``"stream": true``) or not.

The stream, one SSE event per frame, each with an ``event:`` name equal to its JSON ``type``::

    message_start        (at 0.0) the Message with empty content and usage.input_tokens
    ping                 (at 0.0)
    content_block_start  one per block, at the time of the event that opens it
    content_block_delta  text_delta / thinking_delta / input_json_delta (partial_json)
    content_block_stop   at the time of the event that closes the block
    message_delta        at Finish: stop_reason end_turn | max_tokens | tool_use, usage
    message_stop         at Finish: the terminator, omitted when ``script.terminate`` is False

Blocks are opened lazily: thinking (``ThinkingDelta``), text (``TextDelta``) and tool_use
(``ToolCallStart``) each get the next index; a thinking block is closed with one
``signature_delta`` before its ``content_block_stop``. ``ErrorEvent`` becomes ``event: error``
with ``{"type":"error","error":{"details":null,"type":"overloaded_error","message":...},
"request_id":...}`` as the live API sends it, and ends the stream (the SDKs raise on it);
``Malformed`` is an ``event: content_block_delta`` whose data is the broken JSON.
``Usage`` events produce no frame: the last one (else the script's counts) fills
``message_start`` and ``message_delta``. Error bodies are ``{"type":"error","error":{...},
"request_id":...}`` with ``request-id`` and, when set, ``retry-after`` headers; 529 is
``overloaded_error``.

Faithful: event names and order, JSON shapes and field order of the documented examples, compact
JSON with UTF-8 kept raw, ``tool_use``/``toolu_`` ids, the mid-stream error event, error types by
status, ``event: ping`` as the keep-alive (what the API itself sends).

Deliberate differences:

* ``ping`` follows ``message_start`` straight away; the API sends it after the first
  ``content_block_start``. Both arrive before the first token and the SDKs skip pings.
* ids (``msg_01...``, signatures) are derived from the script seed and request id, so a replay is
  byte-identical; signatures are opaque filler and would not verify on a real API.
* usage carries ``input_tokens``/``output_tokens`` and zero cache counters only; the
  ``message_start`` snapshot always says ``output_tokens: 1`` as the API does.
* tool calls are never interleaved by the API; if a script interleaves deltas of two calls, each
  delta still names its own block index and a block stays open until its ``ToolCallEnd``.
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
    seed_digest,
    started_call,
    usage_counts,
)
from .base import Frame, Inspection, Item, RequestInfo, WireFormat, register
from .sse_frame import sse, sse_json

DEFAULT_MODEL = "claude-sonnet-4-5"

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "content_filter": "refusal"}
# error.type by HTTP status (the API's documented table), then by neutral kind for other statuses
ERROR_TYPE_BY_STATUS = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}
ERROR_TYPE_BY_KIND = {
    "invalid_request": "invalid_request_error", "authentication": "authentication_error",
    "permission": "permission_error", "not_found": "not_found_error",
    "rate_limit": "rate_limit_error", "server_error": "api_error", "unavailable": "api_error",
    "overloaded": "overloaded_error",
}

PING = sse_json({"type": "ping"}, event="ping")
_B62 = string.digits + string.ascii_letters


def _b62(digest: bytes, n: int) -> str:
    """``n`` base-62 digits of the whole digest read as one number (room for 40 characters)."""
    num = int.from_bytes(digest, "big")
    out = []
    for _ in range(n):
        num, r = divmod(num, 62)
        out.append(_B62[r])
    return "".join(out)


def message_id(script: Script, req: RequestInfo) -> str:
    return "msg_01" + _b62(seed_digest(script, req, "msg"), 22)


def tool_use_id(call_id: str) -> str:
    """Reshape a neutral call id into Anthropic's ``toolu_`` form (stable, readable)."""
    if call_id.startswith("toolu_"):
        return call_id
    return "toolu_" + call_id.removeprefix("call_")


def _signature(script: Script, req: RequestInfo, block: int) -> str:
    return "Eq" + _b62(seed_digest(script, req, f"sig{block}"), 40)


def _event(obj: dict[str, Any]) -> bytes:
    return sse_json(obj, event=obj["type"])


def _message(script: Script, req: RequestInfo, content: list[dict[str, Any]],
             stop_reason: str | None, input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "id": message_id(script, req), "type": "message", "role": "assistant",
        "model": req.model or DEFAULT_MODEL, "content": content,
        "stop_reason": stop_reason, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": output_tokens},
    }


class _Blocks:
    """Which content block is open, and the constant bytes around each block's deltas."""

    def __init__(self, script: Script, req: RequestInfo) -> None:
        self.script, self.req = script, req
        self.count = 0
        self.open: dict[int, str] = {}  # block index -> "text" | "thinking" | "tool_use"
        self.current: int | None = None  # the block text/thinking deltas go to
        self.by_tool: dict[int, int] = {}  # ToolCallStart.index -> block index
        self.text_tpl: tuple[bytes, bytes] | None = None

    def start(self, kind: str, block: dict[str, Any]) -> list[bytes]:
        # a text/thinking block ends when any other block starts; tool_use ends at ToolCallEnd
        cur = self.current
        out = self.stop(cur) if cur is not None and self.open[cur] != "tool_use" else []
        index = self.count
        self.count += 1
        self.open[index] = kind
        self.current = index
        out.append(_event({"type": "content_block_start", "index": index,
                           "content_block": block}))
        delta_type, key = {"text": ("text_delta", "text"),
                           "thinking": ("thinking_delta", "thinking"),
                           "tool_use": ("input_json_delta", "partial_json")}[kind]
        head = (f'event: content_block_delta\ndata: {{"type":"content_block_delta",'
                f'"index":{index},"delta":{{"type":"{delta_type}","{key}":')
        self.text_tpl = (head.encode(), b"}}\n\n")
        return out

    def stop(self, index: int) -> list[bytes]:
        kind = self.open.pop(index)
        out = []
        if kind == "thinking":
            sig = _signature(self.script, self.req, index)
            out.append(_event({"type": "content_block_delta", "index": index,
                               "delta": {"type": "signature_delta", "signature": sig}}))
        out.append(_event({"type": "content_block_stop", "index": index}))
        if index == self.current:
            self.current = None
        return out

    def stop_all(self) -> list[bytes]:
        out: list[bytes] = []
        for index in sorted(self.open):
            out += self.stop(index)
        return out


def _stream(script: Script, req: RequestInfo) -> Iterator[Item]:
    input_tokens, output_tokens = usage_counts(script)
    start = _message(script, req, [], None, input_tokens, 1)
    yield Frame(0.0, _event({"type": "message_start", "message": start}))
    yield Frame(0.0, PING)
    blocks = _Blocks(script, req)
    kind: str | None = None  # kind of blocks.current, for the hot path
    for timed in script.events:
        ev, at = timed.event, timed.at
        t = type(ev)
        if t is TextDelta or t is ThinkingDelta:
            want = "text" if t is TextDelta else "thinking"
            if kind != want or blocks.current is None:
                empty = {"type": "text", "text": ""} if want == "text" else {
                    "type": "thinking", "thinking": "", "signature": ""}
                for data in blocks.start(want, empty):
                    yield Frame(at, data)
                kind = want
            head, tail = blocks.text_tpl  # type: ignore[misc]
            yield Frame(at, head + json_str(ev.text).encode() + tail)
        elif t is ToolCallStart:
            block = {"type": "tool_use", "id": tool_use_id(ev.call_id), "name": ev.name,
                     "input": {}}
            for data in blocks.start("tool_use", block):
                yield Frame(at, data)
            blocks.by_tool[ev.index] = blocks.current  # type: ignore[assignment]
            kind = "tool_use"
        elif t is ToolCallDelta:
            index = started_call(blocks.by_tool, ev.index)
            yield Frame(at, _event({"type": "content_block_delta", "index": index, "delta": {
                "type": "input_json_delta", "partial_json": ev.arguments}}))
        elif t is ToolCallEnd:
            index = started_call(blocks.by_tool, ev.index)
            if index in blocks.open:
                for data in blocks.stop(index):
                    yield Frame(at, data)
            if blocks.current is None:
                kind = None
        elif t is Finish:
            for data in blocks.stop_all():
                yield Frame(at, data)
            kind = None
            yield Frame(at, _event({
                "type": "message_delta",
                "delta": {"stop_reason": finish_reason(STOP_REASONS, ev.reason),
                          "stop_sequence": None},
                "usage": {"output_tokens": output_tokens}}))
            if script.terminate:
                yield Frame(at, _event({"type": "message_stop"}))
        elif t is ErrorEvent:
            # as the live API sends it: "details" first, the request id at the top level
            yield Frame(at, _event({"type": "error", "error": {
                "details": None, "type": ERROR_TYPE_BY_KIND.get(ev.kind, "api_error"),
                "message": ev.message}, "request_id": req.request_id}))
            return
        elif t is Malformed:
            yield Frame(at, sse(ev.raw, event="content_block_delta"))
        elif isinstance(ev, CONTROL_EVENTS):
            yield timed
        # Usage: no frame of its own (see usage_counts)


def _complete(script: Script, req: RequestInfo) -> dict[str, Any]:
    input_tokens, output_tokens = usage_counts(script)
    content: list[dict[str, Any]] = []
    if script.thinking:
        content.append({"type": "thinking", "thinking": script.thinking,
                        "signature": _signature(script, req, 0)})
    if script.text or not script.tool_calls:
        content.append({"type": "text", "text": script.text})
    for i, call in enumerate(script.tool_calls):
        content.append({"type": "tool_use", "id": tool_use_id(call.call_id), "name": call.name,
                        "input": parse_arguments(f"tool_calls[{i}].arguments", call.arguments)})
    return _message(script, req, content, finish_reason(STOP_REASONS, script.finish_reason),
                    input_tokens, output_tokens)


def _error(err: HttpError, req: RequestInfo) -> tuple[dict[str, Any], dict[str, str]]:
    kind = ERROR_TYPE_BY_STATUS.get(err.status) or ERROR_TYPE_BY_KIND.get(err.kind, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": err.message},
            "request_id": req.request_id}
    headers = {"request-id": req.request_id}
    if err.retry_after is not None:
        headers["retry-after"] = retry_after(err.retry_after)
    return body, headers


def _inspect(body: dict[str, Any], path_params: Mapping[str, str],
             query: Mapping[str, str]) -> Inspection:
    model = model_field(body)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ValueError("stream: expected true or false")
    return Inspection(model=model, stream=stream)


FORMAT = register(WireFormat(
    name="anthropic",
    description="Anthropic Messages API (POST /v1/messages), SSE with named events",
    routes=(("POST", "/v1/messages"),),
    inspect=_inspect,
    stream=_stream,
    complete=_complete,
    error=_error,
    headers=lambda req: {"request-id": req.request_id},
    keepalive=PING,
))

__all__ = ["FORMAT", "message_id", "tool_use_id"]
