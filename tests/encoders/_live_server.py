"""A tiny real aiohttp app (127.0.0.1) that serves one wire format's bytes on the format's own
routes: for SDK paths that cannot take an injected transport (google-genai's aiohttp path,
browser-style GET) and to prove the route patterns match real request paths.

No timing: frames are written back to back, cut into ``write_sizes`` (cycled) writes; a Stall
with a keep-alive interval writes the format's ``keepalive`` bytes once; Close ends the TCP
connection with a FIN mid-body and Reset with an RST. sselab's own server and writer are tested
elsewhere; this only has to get the encoder's bytes onto a socket.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiohttp import web

from sselab.encoders import formats
from sselab.encoders.base import Frame, RequestInfo
from sselab.script.events import Close, Reset, Script, Stall


@dataclass
class LiveFormat:
    format: str
    script: Script
    write_sizes: Sequence[int] | None = None
    requests: list[RequestInfo] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        for method, route in formats()[self.format].routes:
            app.router.add_route(method, route, self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        fmt = formats()[self.format]
        body = {}
        if request.can_read_body:
            body = json.loads(await request.read() or b"{}")
        try:
            seen = fmt.inspect(body, request.match_info, request.query)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        req = RequestInfo(
            request_id=f"req_live{len(self.requests)}", format=self.format,
            method=request.method, path=request.path, model=seen.model, stream=seen.stream,
            body=body, query=dict(request.query), headers=dict(request.headers),
            path_params=dict(request.match_info))
        self.requests.append(req)
        headers = fmt.headers(req)
        if self.script.http_error is not None:
            err_body, err_headers = fmt.error(self.script.http_error, req)
            return web.json_response(err_body, status=self.script.http_error.status,
                                     headers={**headers, **err_headers})
        if not seen.stream:
            return web.json_response(fmt.complete(self.script, req), headers=headers)
        resp = web.StreamResponse(headers={**headers, "Content-Type": fmt.content_type})
        await resp.prepare(request)
        sizes = itertools.cycle(self.write_sizes or [1 << 30])
        for item in fmt.stream(self.script, req):
            if isinstance(item, Frame):
                data = item.data
                while data:
                    n = next(sizes)
                    await resp.write(data[:n])
                    data = data[n:]
            elif isinstance(item.event, Stall) and item.event.keepalive:
                await resp.write(fmt.keepalive)
            elif isinstance(item.event, (Close, Reset)):
                await asyncio.sleep(0.02)  # client and server share a loop: let it read first
                transport = request.transport
                assert transport is not None
                if isinstance(item.event, Reset):
                    sock = transport.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                transport.close()
                return resp
        await resp.write_eof()
        return resp
