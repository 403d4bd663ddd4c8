"""OpenAI Responses background mode: a response that generates whether or not a client is there.

- ``POST /v1/responses`` with ``background: true``: with ``stream: true`` the stream is served
  live (``response.created`` and ``response.queued`` first, status ``queued``); without, the
  answer is the response object at once, ``status: queued``, and generation goes on.
- ``GET /v1/responses/{id}``: the response as it stands: ``queued``, ``in_progress`` (the
  output so far), ``completed`` / ``incomplete`` / ``failed`` (the final object), ``cancelled``.
- ``GET /v1/responses/{id}?stream=true&starting_after=N``: the events from sequence number
  ``N + 1`` (all of them without ``starting_after``), those already generated at once, then the
  rest live, ending with the response.
- ``POST /v1/responses/{id}/cancel``: generation stops; attached streams end after what was
  generated; the answer is the response with ``status: cancelled`` (again on a second cancel).

As the API answers: an unknown id ``404 Response with id '...' not found.`` (only background
responses are kept, for the registry's ``keep`` seconds, or until an ``expire`` fault); a bad
``starting_after`` 400. sselab's wording: cancelling a finished response is a 400 naming its
status. A ``resume_error`` fault fails stream retrievals.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ..encoders import WireFormat, formats
from ..encoders.base import Frame, Inspection, Item, RequestInfo
from ..script.events import Script
from ..sse_parse import parse
from .live import LiveStream, sequence_number
from .live_http import (
    REQUEST_ID_HEADER,
    Ctx,
    link,
    live_stream,
    new_record,
    request_info,
    send_error,
    send_resumed,
    via_handler,
)
from .stream_writer import send_body

TERMINAL = ("completed", "incomplete", "failed", "cancelled")


def _response_id(script: Any, req: Any, first: bytes) -> str:
    """The id in the stream's first event (``response.created``)."""
    event = next(parse([first]), None)
    return str(json.loads(event.data)["response"]["id"]) if event else f"resp_{req.request_id}"


def snapshot(live: LiveStream, now: float) -> dict[str, Any]:
    """The response object as the generated events have built it by ``now``."""
    response: dict[str, Any] = {}
    output: dict[int, dict[str, Any]] = {}
    for data in live.generated_frames(now):
        for event in parse([data]):
            try:
                ev = json.loads(event.data)
            except ValueError:
                continue  # a malformed frame
            _apply(ev, response, output)
    out = dict(response)
    if out.get("status") in ("queued", "in_progress"):
        out["output"] = [output[i] for i in sorted(output)]
        if live.cancelled_at is not None:
            out["status"] = "cancelled"
    return out


def _apply(ev: dict[str, Any], response: dict[str, Any], output: dict[int, dict[str, Any]],
           ) -> None:
    kind = ev.get("type", "")
    if isinstance(ev.get("response"), dict):
        response.clear()
        response.update(ev["response"])
    elif kind in ("response.output_item.added", "response.output_item.done"):
        output[ev["output_index"]] = json.loads(json.dumps(ev["item"]))
    elif kind.endswith(".delta") and ev.get("output_index") in output:
        item = output[ev["output_index"]]
        if kind == "response.output_text.delta":
            parts = item.setdefault("content", [])
            if not parts:
                parts.append({"type": "output_text", "annotations": [], "text": ""})
            parts[0]["text"] += ev["delta"]
        elif kind == "response.function_call_arguments.delta":
            item["arguments"] = item.get("arguments", "") + ev["delta"]
        elif kind == "response.reasoning_summary_text.delta":
            summary = item.setdefault("summary", [])
            if not summary:
                summary.append({"type": "summary_text", "text": ""})
            summary[0]["text"] += ev["delta"]


def _openai_error(message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param,
                      "code": None}}


def add_routes(app: web.Application, ctx: Ctx) -> None:
    fmt = formats()["openai_responses"]

    async def create(request: web.Request) -> web.StreamResponse:
        def inspect(body: dict[str, Any], params: Any, query: Any) -> Inspection:
            seen = fmt.inspect(body, params, query)  # background: always the streaming path
            return Inspection(seen.model, True) if body.get("background") is True else seen

        def headers(req: RequestInfo) -> dict[str, str]:
            out = fmt.headers(req)
            if req.body.get("background") is True and req.body.get("stream") is not True:
                out["Content-Type"] = "application/json"  # the queued response, at once
            return out

        def stream(script: Script, req: RequestInfo) -> Iterator[Item]:
            if req.body.get("background") is not True:
                return fmt.stream(script, req)
            live = live_stream(ctx, request, fmt, script, req, _response_id, sequence_number)
            if req.body.get("stream") is True:
                return live.follow(0, live.t0)
            return _queued(live)

        return await via_handler(ctx, request, fmt, inspect=inspect, headers=headers,
                                 stream=stream)

    async def retrieve(request: web.Request) -> web.StreamResponse:
        record, live = _find(ctx, request, fmt)
        if live is None:
            return await _not_found(request, record, fmt)
        now = time.monotonic()
        if request.query.get("stream", "").lower() not in ("true", "1"):
            return await _json(request, record, fmt, snapshot(live, now))
        after = request.query.get("starting_after")
        if after is not None and not after.lstrip("-").isdigit():
            return await send_error(request, record, fmt, 400, "Invalid value for "
                                    "'starting_after': expected an integer.",
                                    body=_openai_error("Invalid value for 'starting_after': "
                                                       "expected an integer.", "starting_after"))
        fault = live.resume_fails()
        if fault is not None:
            return await send_error(request, record, fmt, fault.status, fault.message)
        start = 0
        if after is not None and int(after) >= 0:
            found = live.position_after(int(after))
            start = found if found is not None else len(live.items)
        return await send_resumed(ctx, request, record, live, fmt, start)

    async def cancel(request: web.Request) -> web.StreamResponse:
        record, live = _find(ctx, request, fmt)
        if live is None:
            return await _not_found(request, record, fmt)
        now = time.monotonic()
        status = snapshot(live, now).get("status")
        if status in TERMINAL and status != "cancelled":
            message = f"Cannot cancel a response with status '{status}'."
            return await send_error(request, record, fmt, 400, message,
                                    body=_openai_error(message))
        live.cancel(now)
        return await _json(request, record, fmt, snapshot(live, now))

    app.router.add_post("/v1/responses", create)
    app.router.add_get("/v1/responses/{response_id}", retrieve)
    app.router.add_post("/v1/responses/{response_id}/cancel", cancel)


def _find(ctx: Ctx, request: web.Request, fmt: WireFormat) -> tuple[Any, LiveStream | None]:
    record = new_record(ctx, request, fmt)
    live = ctx.registry(request).get(request.match_info["response_id"])
    if live is None or live.format != fmt.name or live.expired(time.monotonic()):
        return record, None
    link(record, live)
    return record, live


async def _not_found(request: web.Request, record: Any, fmt: WireFormat) -> web.StreamResponse:
    message = f"Response with id '{request.match_info['response_id']}' not found."
    return await send_error(request, record, fmt, 404, message, body=_openai_error(message))


async def _json(request: web.Request, record: Any, fmt: WireFormat,
                body: dict[str, Any]) -> web.StreamResponse:
    req = request_info(request, record, fmt)
    return await send_body(request, record, 200, body,
                           headers={**fmt.headers(req), REQUEST_ID_HEADER: record.id})


def _queued(live: LiveStream) -> Iterator[Item]:
    """``background: true`` without ``stream``: the response object as it stands at once
    (``queued``), as one JSON body; generation goes on without the client."""
    live.record.stream = False
    yield Frame(0.0, json.dumps(snapshot(live, live.t0), ensure_ascii=False).encode())
    live.record.finish("completed")  # the request is answered, whatever the response does next
