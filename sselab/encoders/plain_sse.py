"""Plain SSE: sselab's own small event-stream format, for apps that stream to a browser with
``EventSource`` (``GET /sse?scenario=NAME``) or ``fetch`` (``POST /sse``).

Every event has a name and a one-line JSON ``data``::

    event: start      data: {"id":"sse-...","model":"..."}          at 0.0, always first
    event: thinking   data: {"text":"..."}                          reasoning text, if any
    event: token      data: {"text":"Hel"}                          one per text delta
    event: tool_call  data: {"index":0,"id":"call_1","name":"get_weather",
                             "arguments":"{\\"city\\":\\"Paris\\"}"} whole, at the call's end
    event: done       data: {"finish_reason":"stop","usage":{"input_tokens":12,
                             "output_tokens":40}}                   last; the terminator
    event: error      data: {"message":"...","kind":"overloaded"}   instead of done; ends it

``finish_reason`` is ``stop``, ``length`` or ``tool_calls``; ``kind`` is one of sselab's
neutral error kinds (``overloaded``, ``server_error``, ``rate_limit``, ``invalid_request``, ...).
``arguments`` is the JSON text the model produced (parse it yourself).

Event ids (on for ``GET /sse``, else with the scenario's ``resume.event_ids``): each event
carries ``id: STREAM:N``, ``STREAM`` the start event's ``id`` and ``N`` counting events from 0,
the start event; the scenario's ``resume.retry_ms`` puts ``retry: N`` on the start event. A
request with ``Last-Event-ID: STREAM:N`` resumes that stream after event ``N``
(``sselab.server.resume_routes``). Keep-alives are SSE
comments (``: keep-alive``), which ``EventSource`` ignores. A ``Malformed`` fault is an
``event: token`` whose data is broken JSON. ``script.terminate == False`` omits ``done``.

Reading it in a browser::

    const es = new EventSource("/sse?scenario=happy-path");
    es.addEventListener("token", (e) => { out.textContent += JSON.parse(e.data).text; });
    es.addEventListener("done", () => es.close());  // close, or EventSource reconnects
    es.addEventListener("error", (e) => {            // also fires on network errors:
      if (e.data) showError(JSON.parse(e.data).message);  // only sselab's event has data
      es.close();
    });

``EventSource`` reconnects by itself whenever the body ends; without ``es.close()`` on ``done`` or
``error`` the browser requests the scenario again after its retry delay. The request picks a
scenario with ``?scenario=NAME`` or an ``X-Sselab-Scenario`` header (the server reads those);
``model`` may come from the JSON body or ``?model=``. There is no non-streaming form: ``complete``
returns the whole answer as one JSON object, and request errors answer
``{"error": {"message", "kind"}}`` with ``retry-after`` when set.
"""

from __future__ import annotations

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
    retry_after,
    seed_digest,
    started_call,
    usage_counts,
)
from .base import Frame, Inspection, Item, RequestInfo, WireFormat, register
from .sse_frame import sse, sse_json

FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "tool_calls",  # sent as is
                  "content_filter": "content_filter"}
TOKEN_HEAD, TOKEN_TAIL = b'event: token\ndata: {"text":', b"}\n\n"
THINKING_HEAD = b'event: thinking\ndata: {"text":'


def stream_id(script: Script, req: RequestInfo) -> str:
    return "sse-" + seed_digest(script, req, "sse").hex()[:16]


def _usage(script: Script) -> dict[str, int]:
    input_tokens, output_tokens = usage_counts(script)
    return {"input_tokens": input_tokens, "output_tokens": output_tokens}


def event_ids(script: Script, req: RequestInfo) -> bool:
    """Whether this stream's events carry ids: the scenario's ``resume.event_ids``, else on for
    ``GET`` (EventSource, which resumes by itself) and off for ``POST``."""
    return script.event_ids if script.event_ids is not None else req.method == "GET"


def _stream(script: Script, req: RequestInfo) -> Iterator[Item]:
    sid = stream_id(script, req)
    frames = _frames(script, req, sid)
    if not event_ids(script, req):
        yield from frames
        return
    # `id: STREAM:N` after the event line of each event (N counts from 0, the start event), so
    # that Last-Event-ID names the stream and the last event the client has whole
    prefix = f"id: {sid}:".encode()
    n = 0
    for item in frames:
        if isinstance(item, Frame):
            head, sep, rest = item.data.partition(b"\n")
            item = Frame(item.at, head + sep + prefix + str(n).encode() + b"\n" + rest)
            n += 1
        yield item


def _frames(script: Script, req: RequestInfo, sid: str) -> Iterator[Item]:
    start = sse_json({"id": sid, "model": req.model}, event="start")
    if script.retry_ms is not None:  # before the data line: `retry: N` (EventSource's delay)
        start = start.replace(b"\ndata:", f"\nretry: {script.retry_ms}\ndata:".encode(), 1)
    yield Frame(0.0, start)
    calls: dict[int, list[str]] = {}  # ToolCallStart.index -> [call id, name, arguments]
    for timed in script.events:
        ev, at = timed.event, timed.at
        t = type(ev)
        if t is TextDelta:
            yield Frame(at, TOKEN_HEAD + json_str(ev.text).encode() + TOKEN_TAIL)
        elif t is ThinkingDelta:
            yield Frame(at, THINKING_HEAD + json_str(ev.text).encode() + TOKEN_TAIL)
        elif t is ToolCallStart:
            calls[ev.index] = [ev.call_id, ev.name, ""]
        elif t is ToolCallDelta:
            started_call(calls, ev.index)[2] += ev.arguments
        elif t is ToolCallEnd:
            yield Frame(at, _tool_call(ev.index, started_call(calls, ev.index)))
            del calls[ev.index]
        elif t is Finish:
            for index in sorted(calls):
                yield Frame(at, _tool_call(index, calls.pop(index)))
            if script.terminate:
                finish = finish_reason(FINISH_REASONS, ev.reason)
                yield Frame(at, sse_json({"finish_reason": finish, "usage": _usage(script)},
                                         event="done"))
        elif t is ErrorEvent:
            yield Frame(at, sse_json({"message": ev.message, "kind": ev.kind}, event="error"))
            return
        elif t is Malformed:
            yield Frame(at, sse(ev.raw, event="token"))
        elif isinstance(ev, CONTROL_EVENTS):
            yield timed


def _tool_call(index: int, call: list[str]) -> bytes:
    call_id, name, arguments = call
    return sse_json({"index": index, "id": call_id, "name": name, "arguments": arguments},
                    event="tool_call")


def _complete(script: Script, req: RequestInfo) -> dict[str, Any]:
    return {
        "id": stream_id(script, req), "model": req.model, "text": script.text,
        "thinking": script.thinking,
        "tool_calls": [{"index": i, "id": c.call_id, "name": c.name, "arguments": c.arguments}
                       for i, c in enumerate(script.tool_calls)],
        "finish_reason": finish_reason(FINISH_REASONS, script.finish_reason),
        "usage": _usage(script),
    }


def _error(err: HttpError, req: RequestInfo) -> tuple[dict[str, Any], dict[str, str]]:
    headers = {} if err.retry_after is None else {"retry-after": retry_after(err.retry_after)}
    return {"error": {"message": err.message, "kind": err.kind}}, headers


def _inspect(body: dict[str, Any], path_params: Mapping[str, str],
             query: Mapping[str, str]) -> Inspection:
    return Inspection(model=model_field(body, query.get("model")), stream=True)


FORMAT = register(WireFormat(
    name="plain_sse",
    description="sselab's plain SSE (event: token / done / error), for EventSource and fetch",
    routes=(("GET", "/sse"), ("POST", "/sse")),
    inspect=_inspect,
    stream=_stream,
    complete=_complete,
    error=_error,
))

__all__ = ["FORMAT", "event_ids", "stream_id"]
