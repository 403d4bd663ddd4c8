"""OpenAI Responses API (``POST /v1/responses``), streaming and not.

Faithful to captured api.openai.com streams (2026) and the API reference:

- typed events, each framed as ``event: <type>`` + ``data: {"type": <type>, ...}``, the data's
  other keys in alphabetical order as the API sends them, ``sequence_number`` counting from 0;
- ``response.created`` and ``response.in_progress`` (the full response object, ``status``
  ``in_progress``, ``output: []``, request parameters echoed) open the stream;
- text: ``response.output_item.added`` (message) -> ``response.content_part.added`` ->
  ``response.output_text.delta``... -> ``response.output_text.done`` ->
  ``response.content_part.done`` -> ``response.output_item.done``;
- function calls: ``output_item.added`` (``function_call``, empty ``arguments``) ->
  ``response.function_call_arguments.delta``... -> ``.done`` -> ``output_item.done``;
- reasoning (``ThinkingDelta``): a ``reasoning`` item with one ``summary_text`` part streamed
  by ``response.reasoning_summary_text.delta`` (as with ``reasoning.summary`` set);
- deltas carry ``obfuscation`` padding the delta to 16 characters (off when
  ``stream_options.include_obfuscation`` is false);
- the stream ends with ``response.completed`` (finish "stop"/"tool_calls") or
  ``response.incomplete`` (``length`` -> ``max_output_tokens``, ``content_filter``), carrying the
  output items and usage; no ``[DONE]`` line.

Mid-stream errors: ``ErrorEvent`` sends the ``error`` event as the live API sends it, nested:
``{"type":"error","error":{"type","code","message","param"},"sequence_number":N}`` (captured in
openai/openai-dotnet#881 and vercel/ai#20022; the API reference shows a flat shape that the wire
does not use), with each error kind's ``error.type``, then ``response.failed`` (``status:
failed``, ``error: {code, message}``) and ends. The openai SDK raises ``APIError`` on the
``error`` event (its stream raises on a top-level ``error`` key).

Background mode (``background: true``): the response object says ``background: true``, and a
streamed one opens with ``response.created`` and ``response.queued`` (``status: queued``), then
``response.in_progress`` when the first output is due (the SDK's stream helper needs
``response.created`` first). The simulator keeps such a response generating whether or not a
client is attached; retrieving, resuming and cancelling it are served by
``sselab.server.resume_responses``.

Deliberate differences: ``model`` echoes the requested name; ids are seeded from
``Script.seed`` and the request id; ``response.failed`` lists only the items finished so far;
``output_text`` parts carry no annotations or logprobs; a ``Malformed`` frame is framed as an
``output_text.delta`` event and takes no sequence number.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

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
from ._common import json_str, usage_counts
from ._params import check_responses
from .base import Frame, Inspection, Item, RequestInfo, WireFormat, register
from .openai_chat import (
    DEFAULT_MODEL,
    ERROR_TYPES,
    Padding,
    inspection,
    openai_error,
    openai_headers,
    seeded,
)
from .sse_frame import sse, sse_json

# request fields echoed in the response object, with the API's defaults, in the API's order
_ECHO: tuple[tuple[str, Any], ...] = (
    ("frequency_penalty", 0.0), ("incomplete_details", None), ("instructions", None),
    ("max_output_tokens", None), ("max_tool_calls", None), ("model", None), ("output", None),
    ("parallel_tool_calls", True), ("presence_penalty", 0.0), ("previous_response_id", None),
    ("prompt_cache_key", None), ("prompt_cache_retention", None),
    ("reasoning", {"effort": None, "summary": None}), ("safety_identifier", None),
    ("service_tier", "auto"), ("store", True), ("temperature", 1.0),
    ("text", {"format": {"type": "text"}, "verbosity": "medium"}), ("tool_choice", "auto"),
    ("tools", []), ("top_logprobs", 0), ("top_p", 1.0), ("truncation", "disabled"),
    ("usage", None), ("user", None), ("metadata", {}),
)
_FAILED_CODES = {"rate_limit": "rate_limit_exceeded", "invalid_request": "invalid_prompt"}
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
_DELTA_TYPES = {"message": "response.output_text.delta",
                "function_call": "response.function_call_arguments.delta",
                "reasoning": "response.reasoning_summary_text.delta"}


@dataclass
class _OutputItem:
    kind: str  # "message", "function_call" or "reasoning"
    id: str
    index: int  # output_index
    call_id: str = ""
    name: str = ""
    parts: list[str] = field(default_factory=list)
    head: bytes = b""  # hot path: bytes before the escaped delta
    mid: bytes = b""  # ... between it and the obfuscation
    end: bytes = b""  # ... between the obfuscation and the sequence number
    tail: bytes = b""  # ... after the sequence number

    def as_output(self, status: str) -> dict[str, Any]:
        text = "".join(self.parts)
        if self.kind == "message":
            return {"id": self.id, "type": "message", "status": status,
                    "content": [] if status == "in_progress" else [_text_part(text)],
                    "role": "assistant"}
        if self.kind == "function_call":
            return {"id": self.id, "type": "function_call", "status": status,
                    "arguments": text, "call_id": self.call_id, "name": self.name}
        summary = [] if status == "in_progress" else [{"type": "summary_text", "text": text}]
        return {"id": self.id, "type": "reasoning", "summary": summary}


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {"input_tokens": prompt,
            "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 0},
            "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion}


class Events:
    """One stream's event renderer: ``event`` is the generic path (a dict through ``dumps``),
    ``delta`` the hot path, byte-identical to ``event`` for the same delta."""

    def __init__(self, script: Script, req: RequestInfo) -> None:
        rng = seeded(script, req)
        self.req = req
        self.stem = f"{rng.getrandbits(96):024x}"  # ids of one response share a prefix
        self.rng = rng
        self.id = self.new_id("resp")
        opts = req.body.get("stream_options")
        self.obfuscate = not (isinstance(opts, dict) and opts.get("include_obfuscation") is False)
        self.padding = Padding(rng)
        self.seq = 0
        self.background = req.body.get("background") is True

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{self.stem}{self.rng.getrandbits(104):026x}"

    def response(self, status: str, output: list[dict[str, Any]], *, at: float = 0.0,
                 usage: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        body = self.req.body
        resp: dict[str, Any] = {
            "id": self.id, "object": "response", "created_at": self.req.created,
            "status": status, "background": self.background,
            "completed_at": self.req.created + int(at) if status == "completed" else None,
            "error": None}
        for key, default in _ECHO:
            resp[key] = body.get(key, default)
        resp.update(model=self.req.model or DEFAULT_MODEL, output=output, usage=usage, **extra)
        if status not in ("in_progress", "queued"):
            resp["service_tier"] = "default"
        return resp

    def pad(self, fragment: str) -> str | None:
        return self.padding.take((-len(fragment)) % 16) if self.obfuscate else None

    def event(self, type_: str, **fields: Any) -> bytes:
        fields["sequence_number"] = self.seq
        self.seq += 1
        return sse_json({"type": type_, **dict(sorted(fields.items()))}, event=type_)

    def open(self, kind: str, at: float, index: int,
             **ident: str) -> tuple[_OutputItem, list[Frame]]:
        prefix = {"message": "msg", "function_call": "fc", "reasoning": "rs"}[kind]
        item = _OutputItem(kind, self.new_id(prefix), index, **ident)
        type_ = _DELTA_TYPES[kind]
        item.head = (f'event: {type_}\ndata: {{"type":"{type_}",'
                     + ('"content_index":0,' if kind == "message" else "") + '"delta":').encode()
        item.mid = (f',"item_id":"{item.id}"' + (',"logprobs":[]' if kind == "message" else "")
                    ).encode()
        item.tail = (b',"summary_index":0}\n\n' if kind == "reasoning" else b"}\n\n")
        item.end = f',"output_index":{index},"sequence_number":'.encode()
        frames = [Frame(at, self.event("response.output_item.added",
                                       item=item.as_output("in_progress"), output_index=index))]
        where = {"item_id": item.id, "output_index": index}
        if kind == "message":
            frames.append(Frame(at, self.event("response.content_part.added", content_index=0,
                                               part=_text_part(""), **where)))
        elif kind == "reasoning":
            frames.append(Frame(at, self.event("response.reasoning_summary_part.added",
                                               part={"type": "summary_text", "text": ""},
                                               summary_index=0, **where)))
        return item, frames

    def delta(self, item: _OutputItem, fragment: str, obfuscation: str | None) -> bytes:
        item.parts.append(fragment)
        seq = self.seq
        self.seq = seq + 1
        pad = b"" if obfuscation is None else b',"obfuscation":"' + obfuscation.encode() + b'"'
        return (item.head + json_str(fragment).encode() + item.mid + pad
                + item.end + str(seq).encode() + item.tail)

    def close(self, item: _OutputItem, at: float, status: str = "completed") -> list[Frame]:
        text = "".join(item.parts)
        where = {"item_id": item.id, "output_index": item.index}
        if item.kind == "message":
            frames = [
                self.event("response.output_text.done", content_index=0, logprobs=[], text=text,
                           **where),
                self.event("response.content_part.done", content_index=0, part=_text_part(text),
                           **where)]
        elif item.kind == "function_call":
            frames = [self.event("response.function_call_arguments.done", arguments=text,
                                 **where)]
        else:
            part = {"type": "summary_text", "text": text}
            frames = [
                self.event("response.reasoning_summary_text.done", summary_index=0, text=text,
                           **where),
                self.event("response.reasoning_summary_part.done", part=part, summary_index=0,
                           **where)]
        frames.append(self.event("response.output_item.done", item=item.as_output(status),
                                 output_index=item.index))
        return [Frame(at, data) for data in frames]


def _stream(script: Script, req: RequestInfo) -> Iterator[Item]:
    ev_ = Events(script, req)
    if ev_.background:  # queued until the model starts: its first event, or the first token
        start = next((t.at for t in script.events if not isinstance(t.event, CONTROL_EVENTS)),
                     0.0)
        for type_ in ("response.created", "response.queued"):
            yield Frame(0.0, ev_.event(type_, response=ev_.response("queued", [])))
        yield Frame(start, ev_.event("response.in_progress",
                                     response=ev_.response("in_progress", [])))
    else:
        for type_ in ("response.created", "response.in_progress"):
            yield Frame(0.0, ev_.event(type_, response=ev_.response("in_progress", [])))
    items: list[_OutputItem] = []
    done: dict[int, dict[str, Any]] = {}  # output_index -> finished item
    current: _OutputItem | None = None  # the open message or reasoning item
    calls: dict[int, _OutputItem] = {}  # open function calls by tool index
    ended = False
    last_at = 0.0

    def close(item: _OutputItem, at: float, status: str = "completed") -> list[Frame]:
        done[item.index] = item.as_output(status)
        return ev_.close(item, at, status)

    def close_all(at: float, status: str = "completed") -> Iterator[Frame]:
        nonlocal current
        if current is not None:
            yield from close(current, at, status)
            current = None
        for index in sorted(calls):
            yield from close(calls.pop(index), at, status)

    def open_(kind: str, at: float, **ident: str) -> Generator[Frame, None, _OutputItem]:
        item, frames = ev_.open(kind, at, len(items), **ident)
        items.append(item)
        yield from frames
        return item

    for timed in script.events:
        ev, at = timed.event, timed.at
        last_at = max(last_at, at)
        if isinstance(ev, CONTROL_EVENTS):
            yield timed
            continue
        if ended:
            continue
        if isinstance(ev, (TextDelta, ThinkingDelta)):
            kind = "message" if isinstance(ev, TextDelta) else "reasoning"
            if current is None or current.kind != kind or calls:
                yield from close_all(at)
                current = yield from open_(kind, at)
            yield Frame(at, ev_.delta(current, ev.text, ev_.pad(ev.text)))
        elif isinstance(ev, ToolCallStart):
            if current is not None:
                yield from close(current, at)
                current = None
            calls[ev.index] = yield from open_("function_call", at, call_id=ev.call_id,
                                                name=ev.name)
        elif isinstance(ev, ToolCallDelta) and ev.index in calls:
            yield Frame(at, ev_.delta(calls[ev.index], ev.arguments, ev_.pad(ev.arguments)))
        elif isinstance(ev, ToolCallEnd) and ev.index in calls:
            yield from close(calls.pop(ev.index), at)
        elif isinstance(ev, Finish):
            ended = True
            yield from _finish(ev_, script, ev.reason, at, close_all, done)
        elif isinstance(ev, ErrorEvent):
            ended = True
            type_, code = ERROR_TYPES.get(ev.kind, ERROR_TYPES["server_error"])
            # the live API nests the error (the API reference shows it flat)
            yield Frame(at, ev_.event("error", error={
                "type": type_, "code": code or type_, "message": ev.message, "param": None}))
            failure = {"code": _FAILED_CODES.get(ev.kind, "server_error"), "message": ev.message}
            output = [done[i] for i in sorted(done)]
            yield Frame(at, ev_.event("response.failed", response=ev_.response(
                "failed", output, at=at, usage=None) | {"error": failure}))
        elif isinstance(ev, Malformed):
            yield Frame(at, sse(ev.raw, event=_DELTA_TYPES["message"]))
    if not ended and script.terminate:
        yield from _finish(ev_, script, script.finish_reason, last_at, close_all, done)


def _finish(ev_: Events, script: Script, reason: str, at: float,
            close_all: Callable[[float, str], Iterator[Frame]],
            done: dict[int, dict[str, Any]]) -> Iterator[Frame]:
    incomplete = _INCOMPLETE.get(reason)
    yield from close_all(at, "incomplete" if incomplete else "completed")
    if not script.terminate:
        return
    output = [done[i] for i in sorted(done)]
    usage = _usage(*usage_counts(script))
    if incomplete:
        resp = ev_.response("incomplete", output, at=at, usage=usage)
        resp["incomplete_details"] = {"reason": incomplete}
        yield Frame(at, ev_.event("response.incomplete", response=resp))
    else:
        yield Frame(at, ev_.event("response.completed",
                                  response=ev_.response("completed", output, at=at, usage=usage)))


def _complete(script: Script, req: RequestInfo) -> dict[str, Any]:
    ev_ = Events(script, req)
    incomplete = _INCOMPLETE.get(script.finish_reason)
    status = "incomplete" if incomplete else "completed"
    output: list[dict[str, Any]] = []
    if script.thinking:
        item = _OutputItem("reasoning", ev_.new_id("rs"), 0, parts=[script.thinking])
        output.append(item.as_output(status))
    if script.text:
        item = _OutputItem("message", ev_.new_id("msg"), 0, parts=[script.text])
        output.append(item.as_output(status))
    for call in script.tool_calls:
        item = _OutputItem("function_call", ev_.new_id("fc"), 0, call_id=call.call_id,
                           name=call.name, parts=[call.arguments])
        output.append(item.as_output(status))
    last_at = max((t.at for t in script.events), default=0.0)
    resp = ev_.response(status, output, at=last_at, usage=_usage(*usage_counts(script)))
    if incomplete:
        resp["incomplete_details"] = {"reason": incomplete}
    return resp


def inspect_body(body: dict[str, Any], path_params: Mapping[str, str],
                 query: Mapping[str, str]) -> Inspection:
    """``model`` and ``stream``; a wrongly typed ``model``, ``stream`` or ``input`` is the
    API's 400."""
    check_responses(body)
    return inspection(body)


OPENAI_RESPONSES = register(WireFormat(
    name="openai_responses",
    description="OpenAI Responses API: typed response.* events with sequence numbers",
    routes=(("POST", "/v1/responses"),),
    inspect=inspect_body,
    stream=_stream,
    complete=_complete,
    error=openai_error,
    headers=openai_headers,
    content_type="text/event-stream; charset=utf-8",
))
