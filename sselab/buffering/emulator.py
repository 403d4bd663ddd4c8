"""The buffering reverse proxy: an aiohttp server in front, a raw asyncio socket to the upstream.

Every downstream write happens here, when the profile's stage releases bytes, so burst
boundaries are the profile's and not an HTTP library's. Upstream failures map to what nginx
answers (and are logged to the ``sselab.buffering`` logger in nginx's terms):

=====================================================  ==========================================
upstream...                                            client gets
=====================================================  ==========================================
refuses / cannot be reached                            502
closes, resets or sends non-HTTP before its head ends  502
sends a head larger than the profile accepts           502
sends no head within the read timeout                  504
closes early, resets or stalls mid-body                the bytes released so far, then the
                                                       connection closes with no final chunk
                                                       (``full-buffer``: 502/504, nothing else)
=====================================================  ==========================================
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import Future
from urllib.parse import urlsplit

from aiohttp import web

from ._http import MAX_HEAD, BodyReader, Head, HttpFramingError, split_head
from .profiles import Plan, Profile, RequestInfo, get_profile

log = logging.getLogger("sselab.buffering")

_NOT_FORWARDED = frozenset({"host", "connection", "keep-alive", "proxy-connection", "te",
                            "trailer", "transfer-encoding", "upgrade", "content-length", "expect"})
_REASONS = {502: "Bad Gateway", 504: "Gateway Time-out"}


def _why(exc: OSError) -> str:
    """``111: Connection refused`` style, as nginx's error log words it."""
    errno = exc.errno or (111 if isinstance(exc, ConnectionRefusedError) else None)
    return f"{errno}: {os.strerror(errno)}" if errno else str(exc) or type(exc).__name__


class _Failure(Exception):
    def __init__(self, status: int, what: str) -> None:
        super().__init__(what)
        self.status, self.what = status, what


def parse_upstream(url: str) -> tuple[str, int, str]:
    """``http://host:port/prefix`` → (host, port, path prefix); ValueError naming the field."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"upstream: expected an http://host:port URL, got {url!r}")
    try:
        port = parts.port or 80
    except ValueError:
        raise ValueError(f"upstream: bad port in {url!r}") from None
    return parts.hostname, port, parts.path.rstrip("/")


class BufferingProxy:
    """``async with BufferingProxy("nginx", upstream_url) as proxy:`` then request ``proxy.url``.

    ``read_timeout``/``connect_timeout`` override the profile's (nginx: 60 s each).
    """

    def __init__(self, profile: str | Profile = "nginx", upstream_url: str = "",
                 host: str = "127.0.0.1", port: int = 0, *, read_timeout: float | None = None,
                 connect_timeout: float | None = None) -> None:
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.upstream_url = upstream_url
        self._up_host, self._up_port, self._prefix = parse_upstream(upstream_url)
        self.host, self.port = host, port
        self.read_timeout = read_timeout or self.profile.read_timeout
        self.connect_timeout = connect_timeout or self.profile.connect_timeout
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BufferingProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- one request -----------------------------------------------------------------------

    def _log(self, status: int | str, what: str, request: web.Request) -> None:
        log.warning("sselab proxy [%s] %s: %s; upstream %s, client request %s %s",
                    self.profile.name, status, what, self.upstream_url, request.method,
                    request.path_qs)

    def _error(self, failure: _Failure, request: web.Request) -> web.Response:
        self._log(failure.status, failure.what, request)
        title = f"{failure.status} {_REASONS.get(failure.status, 'Error')}"
        body = (f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1>"
                f"</center><hr><center>sselab proxy ({self.profile.name})</center></body>"
                "</html>\n")
        return web.Response(status=failure.status, text=body, content_type="text/html",
                            headers={"X-Sselab-Proxy-Error": failure.what[:200]})

    def _upstream_request(self, request: web.Request, body: bytes) -> bytes:
        version = self.profile.behaviour.upstream_version
        lines = [f"{request.method} {self._prefix}{request.raw_path} HTTP/{version}",
                 f"Host: {self._up_host}:{self._up_port}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in request.headers.items()
                  if k.lower() not in _NOT_FORWARDED]
        if body or request.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def _read_head(self, reader: asyncio.StreamReader) -> tuple[Head, bytes]:
        limit = min(self.profile.behaviour.max_head, MAX_HEAD)
        buf = b""
        while True:
            try:
                async with asyncio.timeout(self.read_timeout):
                    data = await reader.read(65536)
            except TimeoutError:
                raise _Failure(504, f"upstream timed out ({self.read_timeout:g}s) while "
                                    "reading response header from upstream") from None
            except OSError as exc:
                raise _Failure(502, f"recv() failed ({_why(exc)}) while reading "
                                    "response header from upstream") from None
            if not data:
                raise _Failure(502, "upstream prematurely closed connection while reading "
                                    "response header from upstream")
            buf += data
            try:
                parsed = split_head(buf)
            except HttpFramingError as exc:
                raise _Failure(502, f"upstream sent no valid HTTP/1.x header while reading "
                                    f"response header from upstream ({exc})") from None
            if parsed is not None:
                if parsed[0].size > limit:
                    raise _Failure(502, "upstream sent too big header while reading response "
                                        f"header from upstream (over {limit} bytes)")
                return parsed
            if len(buf) > limit:
                raise _Failure(502, "upstream sent too big header while reading response "
                                    f"header from upstream (over {limit} bytes)")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        info = RequestInfo(request.method, request.path_qs,
                           (request.version.major, request.version.minor),
                           {k.lower(): v for k, v in request.headers.items()})
        writer = None
        try:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(self._up_host, self._up_port)
            except TimeoutError:
                raise _Failure(504, "upstream timed out while connecting to upstream") from None
            except OSError as exc:
                raise _Failure(502, f"connect() failed ({_why(exc)}) while "
                                    "connecting to upstream") from None
            writer.write(self._upstream_request(request, body))
            head, rest = await self._read_head(reader)
            plan = self.profile.behaviour.plan(info, head)
            log.info("sselab proxy [%s] %s %s -> %s, %s", self.profile.name, request.method,
                     request.path_qs, plan.status, plan.mode)
            ends_at_eof = BodyReader.for_head(head, request.method).mode == "close"
            return await self._relay(request, reader, plan, rest, ends_at_eof)
        except _Failure as failure:
            return self._error(failure, request)
        finally:
            if writer is not None:
                writer.close()

    async def _relay(self, request: web.Request, reader: asyncio.StreamReader, plan: Plan,
                     rest: bytes, ends_at_eof: bool) -> web.StreamResponse:
        resp = web.StreamResponse(status=plan.status, reason=plan.reason or None)
        for key, value in plan.headers:
            resp.headers.add(key, value)
        if plan.headers_early:
            await resp.prepare(request)

        async def emit(data: bytes) -> None:
            if data:
                if not resp.prepared:
                    await resp.prepare(request)
                await resp.write(data)

        stage = plan.stage
        problem: _Failure | None = None
        tail = b""
        try:
            await emit(stage.feed(rest))  # the preread, possibly empty
            while not stage.complete:
                try:
                    async with asyncio.timeout(self.read_timeout):
                        data = await reader.read(plan.read_size)
                except TimeoutError:
                    raise _Failure(504, f"upstream timed out ({self.read_timeout:g}s) while "
                                        "reading upstream") from None
                except OSError as exc:
                    raise _Failure(502, f"recv() failed ({_why(exc)}) while "
                                        "reading upstream") from None
                if not data:
                    break
                await emit(stage.feed(data))
        except _Failure as failure:
            problem = failure  # what the stage still holds is dropped, as nginx does
        else:
            tail = stage.finish()  # EOF or complete: what is held goes out
            if not (stage.complete or ends_at_eof):
                problem = _Failure(502, "upstream prematurely closed connection while "
                                        "reading upstream")
        if problem is not None and plan.content_length:
            return self._error(problem, request)
        if plan.content_length:
            resp.content_length = len(tail)
        await emit(tail)
        if not resp.prepared:
            await resp.prepare(request)
        if problem is not None:
            self._log("truncated", f"{problem.what}; closing the client connection mid-body",
                      request)
            if request.transport is not None:
                request.transport.close()
            return resp
        await resp.write_eof()
        return resp


class SyncBufferingProxy:
    """Thread-backed :class:`BufferingProxy` for synchronous code: ``with SyncBufferingProxy(
    "nginx", url) as proxy: requests.get(proxy.url + "/sse")``."""

    def __init__(self, profile: str | Profile = "nginx", upstream_url: str = "",
                 host: str = "127.0.0.1", port: int = 0, **options: float | None) -> None:
        self.proxy = BufferingProxy(profile, upstream_url, host, port, **options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.proxy.url

    def start(self) -> None:
        started: Future[None] = Future()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self.proxy.start())
            except BaseException as exc:  # surface bind errors in the caller's thread
                started.set_exception(exc)
                return
            started.set_result(None)
            self._loop.run_forever()
            self._loop.run_until_complete(self.proxy.stop())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="sselab-buffering-proxy", daemon=True)
        self._thread.start()
        started.result(timeout=10)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = self._thread = None

    def __enter__(self) -> SyncBufferingProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
