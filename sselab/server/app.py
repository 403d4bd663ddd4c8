"""The simulator's aiohttp application: one route per wire format, plus ``/_sselab/``.

Per request: record it, parse the body, let the format say which model and whether it streams,
choose the scenario (``X-Sselab-Scenario`` header, ``?scenario=``, a ``model`` equal to a
scenario name or ``sselab:NAME``, else the default), compile the scenario (cached), then hand the
encoder's frames, shaped by the scenario's faults, to the one writer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from .. import lab
from ..encoders import Lookup, RequestInfo, WireFormat, formats
from ..encoders._params import InvalidParam
from ..encoders.base import KIND_STATUS
from ..errors import UnknownScenarioError
from ..record import replay
from ..scenario.schema import Scenario
from ..script.build import compile_scenario
from ..script.events import Close, ErrorEvent, HttpError, Reset, Script, Stall
from ..shaping import shape
from . import control, guard, resume_routes
from .pacer import Pacer
from .recorder import Recorder, RequestRecord
from .stream_writer import send_body, send_drop, send_stream

REQUEST_ID_HEADER = "X-Sselab-Request-Id"
SCENARIO_HEADER = "X-Sselab-Scenario"
STATE_KEY: web.AppKey[SimState] = web.AppKey("sselab_state")
MAX_BODY = 16 * 1024 * 1024  # request bodies over this get 413 in the provider's shape


@dataclass
class SimState:
    scenarios: dict[str, Scenario]
    default_scenario: str
    recorder: Recorder = field(default_factory=Recorder)
    max_stall: float = 300.0
    pacer: Pacer = field(default_factory=Pacer)
    played: dict[str, int] = field(default_factory=dict)  # replays of each recording, so far
    _scripts: dict[str, Script] = field(default_factory=dict)

    def script(self, name: str) -> Script:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = compile_scenario(self.scenarios[name])
        return script

    def add(self, scenario: Scenario) -> None:
        self.scenarios[scenario.name] = scenario
        self._scripts.pop(scenario.name, None)

    def choose(self, request: web.Request, model: str | None) -> str:
        explicit = request.headers.get(SCENARIO_HEADER) or request.query.get("scenario")
        if not explicit and model:
            if model in self.scenarios:
                return model
            for prefix in ("sselab:", "sselab/"):
                if model.startswith(prefix):
                    explicit = model[len(prefix):]
        if explicit:
            if explicit not in self.scenarios:
                raise UnknownScenarioError(explicit, list(self.scenarios))
            return explicit
        return self.default_scenario


def _request_info(request: web.Request, record: RequestRecord, fmt: WireFormat,
                  body: dict[str, Any]) -> RequestInfo:
    return RequestInfo(
        request_id=record.id, format=fmt.name, method=request.method, path=request.path,
        body=body, query=dict(request.query), headers=dict(request.headers),
        path_params=dict(request.match_info), created=int(time.time()),
    )


async def _error(request: web.Request, record: RequestRecord, fmt: WireFormat,
                 req: RequestInfo, err: HttpError, *, due: float = 0.0,
                 outcome: str = "http_error") -> web.StreamResponse:
    body, headers = fmt.error(err, req)
    record.error = err.message
    return await send_body(request, record, err.status, body, due=due, outcome=outcome,
                           headers={**headers, REQUEST_ID_HEADER: record.id})


async def _reject(request: web.Request, record: RequestRecord, fmt: WireFormat,
                  req: RequestInfo, status: int, message: str,
                  **extra: Any) -> web.StreamResponse:
    """A request the simulator refuses before any scenario runs: the provider's error shape,
    outcome ``rejected``."""
    err = HttpError(status, message, "invalid_request", **extra)
    return await _error(request, record, fmt, req, err, outcome="rejected")


async def _read_json(request: web.Request) -> tuple[Any, str | None, int]:
    """The request's JSON body (``{}`` when empty), or why it cannot be read and the status."""
    if not request.can_read_body:
        return {}, None, 200
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        return None, (f"sselab: the request body is larger than the simulator's limit of "
                      f"{MAX_BODY // (1024 * 1024)} MiB ({exc.text or 'too large'})"), 413
    except RequestPayloadError as exc:
        detail = " ".join(str(exc).split())
        return None, f"sselab: the request body could not be read ({detail})", 400
    if not raw.strip():
        return {}, None, 200
    try:
        return json.loads(raw), None, 200
    except RecursionError:
        return None, ("sselab: the request body is not valid JSON for this server (nested "
                      "too deeply)"), 400
    except ValueError as exc:
        return None, f"sselab: the request body is not valid JSON ({exc})", 400


def _handler(fmt: WireFormat) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE_KEY]
        record = state.recorder.new(request.method, request.path)
        record.format = fmt.name
        try:
            return await _serve(request, state, record, fmt)
        except (asyncio.CancelledError, ConnectionError):  # gone, e.g. in the middle of the body
            record.finish("client_disconnected")
            raise
        except Exception as exc:  # a bug: the record says so, aiohttp logs the traceback
            if not record.done:
                record.error = f"sselab: internal error: {type(exc).__name__}: {exc}"[:500]
                record.finish("rejected")
            raise

    return handle


async def _serve(request: web.Request, state: SimState, record: RequestRecord,
                 fmt: WireFormat) -> web.StreamResponse:
    req = _request_info(request, record, fmt, {})
    lab.remember(request.app, req)  # filled in below: the lab's byte log replays it
    body, problem, status = await _read_json(request)
    if problem is not None:
        return await _reject(request, record, fmt, req, status, problem)
    if not isinstance(body, dict):
        return await _reject(request, record, fmt, req, 400,
                             "sselab: the request body must be a JSON object")
    req.body = body
    try:
        seen = fmt.inspect(body, req.path_params, req.query)
    except InvalidParam as exc:  # the provider's own message, param and code
        return await _reject(request, record, fmt, req, 400, exc.message, param=exc.param,
                             code=exc.code)
    except (KeyError, TypeError, ValueError) as exc:
        return await _reject(request, record, fmt, req, 400,
                             f"sselab: cannot read this {fmt.name} request: {exc}")
    req.model, req.stream = seen.model, seen.stream
    record.model, record.stream = seen.model, seen.stream
    try:
        name = state.choose(request, seen.model)
    except UnknownScenarioError as exc:
        return await _error(request, record, fmt, req, HttpError(404, f"sselab: {exc}",
                                                                 "not_found"))
    record.scenario = name
    replayed = await replay.answer(request, record, fmt, req, state, name)
    if isinstance(replayed, str):  # the recording matched, decoded (sselab.record)
        name = record.scenario = replayed
    elif replayed is not None:  # a recording, verbatim
        return replayed
    script = state.script(name)
    if script.http_error is not None:
        return await _error(request, record, fmt, req, script.http_error)
    headers = {**fmt.headers(req), REQUEST_ID_HEADER: record.id}
    if not seen.stream:
        return await _complete(request, record, fmt, req, script, headers, state)
    ends_in_error = any(isinstance(t.event, ErrorEvent) for t in script.events)
    items = shape(fmt.stream(script, req), state.scenarios[name].faults)
    return await send_stream(
        request, record, items,
        # only what providers send: no X-Accel-Buffering, so a provider stream relayed
        # raw through nginx buffers here as it does in production
        headers={"Content-Type": fmt.content_type, "Cache-Control": "no-cache", **headers},
        keepalive=fmt.keepalive, max_stall=state.max_stall, pacer=state.pacer,
        outcome="error_event" if ends_in_error else "completed")


async def _complete(request: web.Request, record: RequestRecord, fmt: WireFormat,
                    req: RequestInfo, script: Script, headers: Mapping[str, str],
                    state: SimState) -> web.StreamResponse:
    """A non-streaming request: the whole answer once the scenario has finished 'generating'."""
    last = script.events[-1] if script.events else None
    if last is not None and isinstance(last.event, ErrorEvent):
        err = last.event
        return await _error(request, record, fmt, req, HttpError(
            KIND_STATUS.get(err.kind, 500), err.message, err.kind), due=last.at)
    if last is not None and isinstance(last.event, (Close, Reset)) or (
            last is not None and isinstance(last.event, Stall) and last.event.seconds is None):
        return await send_drop(request, record, last.event, due=last.at,  # type: ignore[arg-type]
                               max_stall=state.max_stall)
    return await send_body(request, record, 200, fmt.complete(script, req),
                           headers=headers, due=last.at if last else 0.0)


def _lookup_handler(lookup: Lookup) -> Any:
    """A format's metadata route (Ollama's model list...): answered from the scenarios, not
    recorded (it streams nothing)."""
    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE_KEY]
        body, problem, status = await _read_json(request)
        if problem is not None:  # Ollama's error shape: {"error": "..."}
            return web.json_response({"error": problem}, status=status)
        scenarios = {name: sc.description for name, sc in state.scenarios.items()}
        status, answer = lookup.answer(scenarios, body if isinstance(body, dict) else {})
        return web.json_response(answer, status=status)

    return handle


def create_app(scenarios: Mapping[str, Scenario], default_scenario: str = "default", *,
               max_stall: float = 300.0, recorder: Recorder | None = None,
               control_guard: guard.ControlGuard | None = None) -> web.Application:
    """The simulator as an aiohttp application (run it with ``handler_cancellation=True``).

    ``control_guard`` says who may use ``/_sselab/*`` (default: a server bound to 127.0.0.1,
    no token; see :mod:`sselab.server.guard`).
    """
    if default_scenario not in scenarios:
        raise UnknownScenarioError(default_scenario, list(scenarios))
    app = web.Application(client_max_size=MAX_BODY, middlewares=[
        guard.middleware(control_guard or guard.ControlGuard())])
    app[STATE_KEY] = SimState(dict(scenarios), default_scenario,
                              recorder if recorder is not None else Recorder(),
                              max_stall)
    control.add_routes(app, STATE_KEY)
    lab.add_routes(app, STATE_KEY)
    resume_routes.add_routes(app, STATE_KEY, _handler)  # before the formats' routes: sees first
    for fmt in formats().values():
        handler = _handler(fmt)
        for method, path in fmt.routes:
            app.router.add_route(method, path, handler)
        for lookup in fmt.lookups:
            app.router.add_route(lookup.method, lookup.path, _lookup_handler(lookup))
    app.router.add_route("OPTIONS", r"/{tail:[\s\S]*}", guard.preflight)
    app.router.add_route("*", r"/{tail:[\s\S]*}", control.no_route)  # newlines too
    app.on_response_prepare.append(guard.cors_headers)
    return app
