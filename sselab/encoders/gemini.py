"""Gemini API (Google AI, ``generativelanguage.googleapis.com``): ``generateContent`` and
``streamGenerateContent?alt=sse``, under both ``/v1beta/`` and ``/v1/``.

google-genai asks for ``/v1/`` by default and ``/v1beta/`` when told ``api_version="v1beta"``;
the model and the method share one path segment (``models/gemini-2.5-flash:generateContent``),
so the routes capture ``{model_action}`` and :func:`split_model_action` splits it at the colon.

The stream: one ``data: {GenerateContentResponse}`` event per content event, nothing before the
first token, no terminator line (google-genai raises on ``data: [DONE]``)::

    data: {"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"},"index": 0}],
           "usageMetadata": {...},"modelVersion": "gemini-2.5-flash","responseId": "..."}

* ``TextDelta`` -> a ``{"text": ...}`` part; ``ThinkingDelta`` -> ``{"text": ..., "thought": true}``
  (what the API sends with ``includeThoughts``);
* tool calls are not streamed by Gemini: the ``ToolCallDelta`` fragments are collected and one
  ``{"functionCall": {"name", "args"}}`` part is sent at ``ToolCallEnd`` (or at Finish);
* ``Finish`` -> a last chunk with an empty text part, ``finishReason`` (STOP, MAX_TOKENS; tool
  calls also end with STOP) and the full ``usageMetadata``. This chunk is the terminator, omitted
  when ``script.terminate`` is False;
* ``ErrorEvent`` -> ``data: {"error": {"code": 503,"message": ...,"status": "UNAVAILABLE"}}``
  (google-genai raises ``ServerError``/``ClientError`` from the code); the stream ends;
* ``Malformed`` -> a ``data:`` event whose JSON is cut short; ``Usage`` -> no frame (the last one,
  else the script's counts, fills ``usageMetadata``).

Errors before the stream: ``{"error": {"code", "message", "status": "RESOURCE_EXHAUSTED", ...}}``;
a retry delay goes where Google puts it, a ``google.rpc.RetryInfo`` detail (``"retryDelay":
"30s"``), not a ``Retry-After`` header.

Faithful: Google's JSON spacing (``": "`` after keys, ``","`` between items) with UTF-8 kept raw,
CRLF line ends (what the API and Vertex send; clients that split on ``"\\n\\n"`` break on it),
part shapes, finish reasons, error statuses.

Deliberate differences:

* ``usageMetadata`` on chunks before the last carries only the prompt count (the API adds running
  candidate counts); ``responseId`` is seeded from the script and request id; ``modelVersion``
  echoes the requested model.
* without ``alt=sse`` the API streams one JSON array; sselab always answers SSE.
* no request-id header: the API sends none that clients read.
* keep-alive is a bare CRLF (an empty line, which every SSE reader ignores), because
  google-genai's reader takes any non-``data:`` line for raw JSON and raises
  ``UnknownApiResponseError`` on a ``: comment`` line.
"""

from __future__ import annotations

import json
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
from ._common import finish_reason, json_str, parse_arguments, seeded_id, usage_counts
from .base import Frame, Inspection, Item, RequestInfo, WireFormat, register
from .sse_frame import sse

DEFAULT_MODEL = "gemini-2.5-flash"
EOL = b"\r\n"
KEEPALIVE = EOL
ACTIONS = {"streamGenerateContent": True, "generateContent": False}
FINISH_REASONS = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP",
                  "content_filter": "SAFETY"}
STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL",
    501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
CODE_BY_KIND = {
    "invalid_request": 400, "authentication": 401, "permission": 403, "not_found": 404,
    "rate_limit": 429, "server_error": 500, "unavailable": 503, "overloaded": 503,
}

_gdumps = json.JSONEncoder(separators=(",", ": "), ensure_ascii=False).encode
_ID_CHARS = string.ascii_letters + string.digits + "-_"


def split_model_action(model_action: str) -> tuple[str, str]:
    """``"gemini-2.5-flash:streamGenerateContent"`` -> ``("gemini-2.5-flash", "stream...")``."""
    model, sep, action = model_action.rpartition(":")
    if not sep or not model:
        raise ValueError(f"path: expected models/{{model}}:{{method}}, got {model_action!r}")
    if action not in ACTIONS:
        raise ValueError(f"path: unsupported method {action!r}; expected one of "
                         f"{', '.join(ACTIONS)}")
    return model, action


def _frame(data: str) -> bytes:
    """One SSE event ending in CRLF lines (the shared writer's LF framing, re-ended)."""
    return sse(data).replace(b"\n", EOL)


def response_id(script: Script, req: RequestInfo) -> str:
    return seeded_id(script, req, "rid", _ID_CHARS, 23)


def _args(where: str, arguments: str) -> Any:
    return parse_arguments(where, arguments, "; Gemini sends tool arguments as a JSON object")


class _Chunks:
    """Builds GenerateContentResponse chunks for one response."""

    def __init__(self, script: Script, req: RequestInfo) -> None:
        self.input_tokens, self.output_tokens = usage_counts(script)
        self.tail = {"modelVersion": req.model or DEFAULT_MODEL,
                     "responseId": response_id(script, req)}
        head, _, tail = self.chunk([{"text": "\0"}]).partition(json_str("\0").encode())
        self.text_head, self.text_tail = head, tail  # the hot path: head + json(text) + tail

    def usage(self, final: bool) -> dict[str, int]:
        if not final:
            return {"promptTokenCount": self.input_tokens, "totalTokenCount": self.input_tokens}
        return {"promptTokenCount": self.input_tokens, "candidatesTokenCount": self.output_tokens,
                "totalTokenCount": self.input_tokens + self.output_tokens}

    def body(self, parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
        if finish is not None:
            candidate["finishReason"] = finish
        candidate["index"] = 0
        return {"candidates": [candidate], "usageMetadata": self.usage(finish is not None),
                **self.tail}

    def chunk(self, parts: list[dict[str, Any]], finish: str | None = None) -> bytes:
        return _frame(_gdumps(self.body(parts, finish)))


def _stream(script: Script, req: RequestInfo) -> Iterator[Item]:
    chunks = _Chunks(script, req)
    head, tail = chunks.text_head, chunks.text_tail
    calls: dict[int, list[str]] = {}  # ToolCallStart.index -> [name, arguments so far]

    def call_part(index: int) -> dict[str, Any]:
        name, arguments = calls.pop(index)
        return {"functionCall": {"name": name,
                                 "args": _args(f"tool call {index} arguments", arguments)}}

    for timed in script.events:
        ev, at = timed.event, timed.at
        t = type(ev)
        if t is TextDelta:
            yield Frame(at, head + json_str(ev.text).encode() + tail)
        elif t is ThinkingDelta:
            yield Frame(at, chunks.chunk([{"text": ev.text, "thought": True}]))
        elif t is ToolCallStart:
            calls[ev.index] = [ev.name, ""]
        elif t is ToolCallDelta:
            if ev.index not in calls:
                raise ValueError(f"ToolCallDelta.index: {ev.index} has no ToolCallStart before it")
            calls[ev.index][1] += ev.arguments
        elif t is ToolCallEnd:
            if ev.index in calls:
                yield Frame(at, chunks.chunk([call_part(ev.index)]))
        elif t is Finish:
            parts = [call_part(i) for i in sorted(calls)]
            if parts:
                yield Frame(at, chunks.chunk(parts))
            if script.terminate:
                finish = finish_reason(FINISH_REASONS, ev.reason)
                yield Frame(at, chunks.chunk([{"text": ""}], finish))
        elif t is ErrorEvent:
            code = CODE_BY_KIND.get(ev.kind, 500)
            yield Frame(at, _frame(_gdumps({"error": {
                "code": code, "message": ev.message, "status": STATUS_BY_CODE[code]}})))
            return
        elif t is Malformed:
            yield Frame(at, _frame(ev.raw))
        elif isinstance(ev, CONTROL_EVENTS):
            yield timed


def _complete(script: Script, req: RequestInfo) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if script.thinking:
        parts.append({"text": script.thinking, "thought": True})
    if script.text or not script.tool_calls:
        parts.append({"text": script.text})
    for i, call in enumerate(script.tool_calls):
        parts.append({"functionCall": {"name": call.name,
                                       "args": _args(f"tool_calls[{i}].arguments",
                                                     call.arguments)}})
    return _Chunks(script, req).body(parts, finish_reason(FINISH_REASONS, script.finish_reason))


def _error(err: HttpError, req: RequestInfo) -> tuple[dict[str, Any], dict[str, str]]:
    status = STATUS_BY_CODE.get(err.status) or STATUS_BY_CODE[CODE_BY_KIND.get(err.kind, 500)]
    error: dict[str, Any] = {"code": err.status, "message": err.message, "status": status}
    if err.retry_after is not None:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                             "retryDelay": f"{err.retry_after:g}s"}]
    return {"error": error}, {}


def _inspect(body: dict[str, Any], path_params: Mapping[str, str],
             query: Mapping[str, str]) -> Inspection:
    model, action = split_model_action(path_params.get("model_action", ""))
    return Inspection(model=model, stream=ACTIONS[action])


FORMAT = register(WireFormat(
    name="gemini",
    description="Gemini API generateContent / streamGenerateContent?alt=sse (v1beta and v1)",
    routes=(("POST", "/v1beta/models/{model_action}"), ("POST", "/v1/models/{model_action}")),
    inspect=_inspect,
    stream=_stream,
    complete=_complete,
    error=_error,
    keepalive=KEEPALIVE,
))

__all__ = ["FORMAT", "response_id", "split_model_action"]
