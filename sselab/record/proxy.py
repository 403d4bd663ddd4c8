"""The recording reverse proxy behind ``sselab record``: forward, relay as read, write it down.

Every request is forwarded to ``upstream + path + query`` (HTTP or HTTPS) with the client's own
headers (hop-by-hop ones aside; ``Accept-Encoding: identity``, so that what is recorded is the
body itself). The answer is relayed the moment each piece is read (:func:`send_relay`, the
writer's relay path: no buffering) and each piece is kept with its time; when the exchange is
over, one recording file is written, secrets redacted (``cassette.render``), off the event loop.
An upstream that closes or resets mid-body is mirrored to the client (FIN or RST) and recorded
as such; a client that goes away closes the upstream connection at once.

With ``replay`` recordings (the pytest cassette's modes), a request matching one is answered
from it instead; ``forward=False`` never contacts the upstream.
"""

from __future__ import annotations

import asyncio
import json
import ssl as ssl_module
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from ..scenario.schema import Scenario
from ..script.events import Close, Reset
from ..server import control
from ..server.pacer import Pacer
from ..server.recorder import Recorder, RequestRecord
from ..server.stream_writer import send_body, send_drop, send_relay
from . import cassette, upstream
from .formats import format_for, wire_format
from .match import Incoming, is_recording, no_match, pick
from .replay import REQUEST_ID_HEADER, play
from .schema import DEFAULT_MATCH

PROXY_KEY: web.AppKey[ProxyState] = web.AppKey("sselab_record_state")
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                        "transfer-encoding", "upgrade", "host", "content-length", "expect"})


@dataclass
class ProxyState:
    upstream: str
    out: Path | None  # where recordings are written (None: nowhere)
    ssl: ssl_module.SSLContext | bool | None = None  # None: verify against the system CAs
    match: tuple[str, ...] = DEFAULT_MATCH
    prefix: str = ""  # recording names start with it (the pytest cassette: the test's name)
    redact_headers: tuple[str, ...] = ()
    replay: list[Scenario] = field(default_factory=list)
    forward: bool = True
    max_stall: float = 300.0
    recorder: Recorder = field(default_factory=Recorder)
    pacer: Pacer = field(default_factory=Pacer)
    played: dict[str, int] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)
    on_written: Callable[[Path], None] | None = None
    _writes: set[asyncio.Future[Any]] = field(default_factory=set)
    _writer: ThreadPoolExecutor | None = None

    default_scenario: str = ""  # what the /_sselab/ routes read, with scenarios

    @property
    def scenarios(self) -> dict[str, Scenario]:
        return {s.name: s for s in self.replay}

    async def flush(self) -> None:
        """Wait until every recording started so far is written."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)


def _stem(ex: cassette.Exchange, prefix: str) -> str:
    what = ex.model or ex.path.strip("/").replace("/", "-") or ex.method.lower()
    return cassette.slug("-".join(p for p in (prefix, ex.format or "http", what) if p))


def _schedule_write(st: ProxyState, ex: cassette.Exchange) -> None:
    if st.out is None:
        return
    out, stem = st.out, _stem(ex, st.prefix)

    def write() -> Path:
        return cassette.write_new(out, stem, lambda name: cassette.render(
            ex, name, match=st.match, redact_headers=st.redact_headers))

    if st._writer is None:  # one thread: recordings are named in the order exchanges end
        st._writer = ThreadPoolExecutor(1, thread_name_prefix="sselab-record-write")
    fut = asyncio.get_running_loop().run_in_executor(st._writer, write)
    st._writes.add(fut)

    def done(f: asyncio.Future[Path]) -> None:
        st._writes.discard(f)
        if not f.cancelled() and f.exception() is None:
            st.written.append(f.result())
            if st.on_written is not None:
                st.on_written(f.result())

    fut.add_done_callback(done)


def _forward_headers(request: web.Request) -> list[tuple[str, str]]:
    out = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP
           and k.lower() != "accept-encoding"]
    out.append(("Accept-Encoding", "identity"))
    return out


def _relay_headers(head: upstream.Head) -> list[tuple[str, str]]:
    return [(k, v) for k, v in head.headers if k.lower() not in HOP_BY_HOP]


async def _forward(request: web.Request, record: RequestRecord, st: ProxyState, body: bytes,
                   fmt: str | None) -> web.StreamResponse:
    loop = asyncio.get_running_loop()
    ex = cassette.Exchange(st.upstream, request.method, request.path, request.query_string,
                           [(k, v) for k, v in request.headers.items()
                            if k.lower() not in HOP_BY_HOP], body, format=fmt)
    data = upstream.request_bytes(request.method, st.upstream, request.raw_path,
                                  _forward_headers(request), body)
    try:
        up = await upstream.connect(st.upstream, data, request.method, st.ssl)
    except upstream.Unreachable as exc:  # never reached the upstream: nothing to record
        record.error = f"cannot reach the upstream {st.upstream}: {exc}"
        return await send_body(request, record, 502, {"error": {
            "message": f"sselab record: {record.error}", "type": "upstream_unreachable"}},
            headers={REQUEST_ID_HEADER: record.id}, outcome="http_error")
    ex.sent = loop.time()
    try:
        try:
            head = await up.head
        except (ConnectionError, ValueError) as exc:  # dropped before any response
            ex.end = "reset" if isinstance(exc, ConnectionResetError) else "close"
            record.error = f"the upstream ended the connection before answering ({ex.end})"
            return await send_drop(request, record, Reset() if ex.end == "reset" else Close(),
                                   due=0.0, max_stall=st.max_stall)
        assert up.framing is not None
        ex.status, ex.headers_at, ex.response_headers = head.status, loop.time(), head.headers
        ex.framing = up.framing.mode
        length = up.framing.length if up.framing.mode == "length" else None
        resp, ex.end = await send_relay(request, record, head.status, _relay_headers(head), up,
                                        framing=up.framing.mode, content_length=length)
        return resp
    finally:
        up.abort()  # at once: a client that went away aborts the upstream request
        if not up.done.done():
            ex.end = "client_disconnected"
        ex.ended, ex.reads = up.ended or loop.time(), up.reads
        _schedule_write(st, ex)


def _body_facts(body: bytes) -> tuple[str | None, bool | None]:
    try:
        obj = json.loads(body) if body.strip() else None
    except ValueError:
        return None, None
    if not isinstance(obj, dict):
        return None, None
    model = obj.get("model")
    return (model if isinstance(model, str) else None), obj.get("stream") is True


async def _handle(request: web.Request) -> web.StreamResponse:
    st = request.app[PROXY_KEY]
    record = st.recorder.new(request.method, request.path)
    body = await request.read() if request.can_read_body else b""
    fmt = format_for(request.method, request.path)
    record.format = fmt
    record.model, record.stream = _body_facts(body)
    if st.replay:
        incoming = Incoming.from_raw(request.method, request.path, request.query_string, body)
        found = pick(st.replay, incoming, st.played)
        if found is not None:
            return await play(request, record, found.name, found.recording, pacer=st.pacer,
                              max_stall=st.max_stall,
                              extra_headers={REQUEST_ID_HEADER: record.id})
        if not st.forward:
            return await _no_match(request, record, fmt, no_match(st.replay, incoming))
    elif not st.forward:
        return await _no_match(request, record, fmt, no_match([], Incoming.from_raw(
            request.method, request.path, request.query_string, body)))
    return await _forward(request, record, st, body, fmt)


async def _no_match(request: web.Request, record: RequestRecord, fmt_name: str | None,
                    message: str) -> web.StreamResponse:
    from ..encoders import RequestInfo
    from ..script.events import HttpError

    record.error = message
    fmt = wire_format(fmt_name)
    err = HttpError(404, message, "not_found")
    if fmt is None:
        body: Any = {"error": {"message": message, "type": "not_found"}}
        headers: dict[str, str] = {}
    else:
        body, headers = fmt.error(err, RequestInfo(record.id, fmt.name, request.method,
                                                   request.path))
    return await send_body(request, record, 404, body,
                           headers={**headers, REQUEST_ID_HEADER: record.id},
                           outcome="http_error")


def create_proxy_app(state: ProxyState) -> web.Application:
    """The recording proxy as an aiohttp application (run it with ``handler_cancellation``);
    pending recordings are written before it stops."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[PROXY_KEY] = state

    async def writes(app: web.Application) -> AsyncIterator[None]:
        yield
        await state.flush()
        if state._writer is not None:
            state._writer.shutdown(wait=True)
            state._writer = None

    app.cleanup_ctx.append(writes)
    control.add_routes(app, PROXY_KEY)
    app.router.add_route("*", "/{tail:.*}", _handle)
    return app


def recordings_in(directory: Path, prefix: str = "") -> list[Scenario]:
    """The recordings of a directory (optionally only those whose name starts with prefix)."""
    from ..scenario import load_dir

    if not directory.is_dir():
        return []
    return [s for s in load_dir(directory).values()
            if is_recording(s) and s.name.startswith(prefix)]


def ssl_context(ca_file: str | Path | None = None, insecure: bool = False
                ) -> ssl_module.SSLContext | bool | None:
    """``--upstream-ca`` (trust this CA too) or ``--insecure`` (no verification)."""
    if insecure:
        return False
    if ca_file is not None:
        ctx = ssl_module.create_default_context()
        ctx.load_verify_locations(cafile=str(ca_file))
        return ctx
    return None

