"""Serving a recording as it was: the same status, headers and pieces at the same offsets.

The pieces go out through the simulator's one writer (``send_stream``) as frames due at their
recorded offsets (``timing: recorded``, divided by ``speed``; ``instant``: all at once), so the
timeline records every write as for a scripted scenario. A recorded FIN or RST ends the replay
the same way; an exchange that ended before any response drops the connection likewise.

:func:`answer` is the simulator's hook: a request that names a recording (``X-Sselab-Scenario``,
``?scenario=``, ``model``) gets it verbatim when it asks in the recorded wire format and the
recording has no faults (else the usual path decodes it, applies the faults and re-encodes it);
a request that names nothing, on a server with recordings, gets the recording it matches (the
same way), or an error in the provider's shape naming the nearest one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import CIMultiDict

from ..encoders.base import Frame, Item
from ..script.events import Close, HttpError, Reset, Timed
from ..server.pacer import Pacer
from ..server.recorder import RequestRecord
from ..server.stream_writer import send_body, send_drop, send_stream
from .match import Incoming, is_recording, no_match, pick
from .redact import REDACTED
from .schema import Recording

if TYPE_CHECKING:
    from ..encoders import RequestInfo, WireFormat

SCENARIO_HEADER = "X-Sselab-Scenario"  # as sselab.server.app.SCENARIO_HEADER
REQUEST_ID_HEADER = "X-Sselab-Request-Id"  # as sselab.server.app.REQUEST_ID_HEADER
# framing is the replaying server's own (chunked); the body is replayed as read
_NOT_REPLAYED = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


def items(rec: Recording) -> list[Item]:
    """The recording as the writer's items: each piece at its offset, then how it ended."""
    out: list[Item] = [Frame(rec.scale(p.at_ms), p.data) for p in rec.response.pieces]
    end = rec.response.end
    if end in ("close", "reset", "client_disconnected"):
        out.append(Timed(rec.scale(rec.response.ended_ms), Reset() if end == "reset" else Close()))
    return out


def replay_headers(rec: Recording, extra: Mapping[str, str] = {}) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for line in rec.response.headers:
        name, _, value = line.partition(":")
        value = value.strip()
        if name.strip().lower() not in _NOT_REPLAYED and value != REDACTED:
            headers.add(name.strip(), value)
    headers.update(extra)
    return headers


async def play(request: web.Request, record: RequestRecord, name: str, rec: Recording, *,
               pacer: Pacer, max_stall: float,
               extra_headers: Mapping[str, str] = {}) -> web.StreamResponse:
    record.scenario = name
    response = rec.response
    if response.status is None:  # the upstream dropped the connection before answering
        event = Reset() if response.end == "reset" else Close()
        return await send_drop(request, record, event, due=rec.scale(response.ended_ms),
                               max_stall=max_stall)
    return await send_stream(
        request, record, items(rec), headers=replay_headers(rec, extra_headers), keepalive=b"",
        max_stall=max_stall, pacer=pacer, status=response.status,
        headers_at=rec.scale(response.headers_ms),
        outcome="http_error" if response.status >= 400 else "completed")


def _named(request: web.Request, model: str | None, scenarios: Mapping[str, Any]) -> bool:
    """Whether the request names its scenario (as SimState.choose reads it)."""
    return bool(request.headers.get(SCENARIO_HEADER) or request.query.get("scenario") or (
        model and (model in scenarios or model.startswith(("sselab:", "sselab/")))))


def verbatim(scenario: Any, fmt: WireFormat) -> bool:
    """Whether a recording is sent as recorded: no faults, asked for in its own format."""
    return not scenario.faults and scenario.recording.format in (None, fmt.name)


async def answer(request: web.Request, record: RequestRecord, fmt: WireFormat,
                 req: RequestInfo, state: Any, name: str) -> web.StreamResponse | str | None:
    """The simulator's replay hook: a response (a recording verbatim, or the no-match error),
    the name of the matching recording to serve the usual way (decoded: it has faults), or None
    (not a replay, go on as usual)."""
    scenarios = state.scenarios
    chosen = scenarios[name]
    extra = {REQUEST_ID_HEADER: record.id}
    if _named(request, req.model, scenarios):
        if is_recording(chosen) and verbatim(chosen, fmt):
            return await play(request, record, name, chosen.recording, pacer=state.pacer,
                              max_stall=state.max_stall, extra_headers=extra)
        return None
    recordings = [s for s in scenarios.values() if is_recording(s)]
    if not recordings:
        return None
    incoming = Incoming(request.method, request.path, request.query_string, req.body)
    found = pick(recordings, incoming, state.played)
    if found is None:
        record.error = no_match(recordings, incoming)
        body, headers = fmt.error(HttpError(404, record.error, "not_found"), req)
        return await send_body(request, record, 404, body, headers={**headers, **extra},
                               outcome="http_error")
    if not verbatim(found, fmt):
        return found.name
    return await play(request, record, found.name, found.recording, pacer=state.pacer,
                      max_stall=state.max_stall, extra_headers=extra)
